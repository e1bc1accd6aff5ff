"""Log sinks: SINK_TYPES maps each ``type:`` of the config file to one module's sink."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.sinks import file, stream, syslog
from exporter.sinks.base import (
    OK,
    Batch,
    Delivery,
    Line,
    Reason,
    Sink,
    SinkDeps,
    SinkOutcome,
    SinkType,
)

SINK_TYPES: Mapping[str, SinkType[Any]] = {
    "stdout": stream.TYPE,
    "file": file.TYPE,
    "syslog": syslog.TYPE,
}

__all__ = [
    "OK",
    "SINK_TYPES",
    "Batch",
    "Delivery",
    "Line",
    "Reason",
    "Sink",
    "SinkDeps",
    "SinkOutcome",
    "SinkType",
]
