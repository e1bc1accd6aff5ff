"""Typed application keys: where create_app puts the parts that handlers use."""

from __future__ import annotations

from aiohttp import web

from exporter.config import Settings
from exporter.logs.pipeline import LogPipeline
from exporter.metrics import Metrics
from exporter.reload import Reloader
from exporter.run.runner import Runner
from exporter.web.route import Route
from exporter.web.scrape import SharedRendering

SETTINGS = web.AppKey("settings", Settings)
INSTANCE = web.AppKey("instance", str)  # the instance canaries name: set, else the host name
METRICS = web.AppKey("metrics", Metrics)
LOGS = web.AppKey("logs", LogPipeline)
RUNNER = web.AppKey("runner", Runner)
RELOADER = web.AppKey("reloader", Reloader)
SCRAPE = web.AppKey("scrape", SharedRendering)
ROUTES: web.AppKey[tuple[Route, ...]] = web.AppKey("routes")
