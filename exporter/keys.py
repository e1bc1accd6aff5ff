"""Typed application keys: where create_app puts the parts that handlers use."""

from __future__ import annotations

from aiohttp import web

from exporter.config import Settings
from exporter.logs import LogPipeline
from exporter.metrics import Metrics
from exporter.runner import Runner

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
LOGS = web.AppKey("logs", LogPipeline)
RUNNER = web.AppKey("runner", Runner)
