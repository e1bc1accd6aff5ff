"""Measurements made inside this process: the log pipeline against Python's FileHandler."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.config import LogLevel
from exporter.logs.formatter import JsonLineFormatter
from exporter.logs.pipeline import LogPipeline
from exporter.sinks.file import FileSink
from exporter.sinks.series import SinkSeries

MESSAGE = "GET /metrics 200"
EXTRA = {"remote": "127.0.0.1", "method": "GET", "path": "/metrics", "status": 200}


def pipeline_records_per_second(records: int) -> float:
    """JSON records a second through our queue to a file, until every one is written."""
    with tempfile.TemporaryDirectory() as tmp:
        sink = FileSink("file", Path(tmp) / "queue.log", SinkSeries(CollectorRegistry()))
        pipeline = LogPipeline([sink], LogLevel.INFO, queue_size=records + 1)
        log = logging.getLogger("bench.queue")
        pipeline.start()
        start = time.perf_counter()
        for _ in range(records):
            log.info(MESSAGE, extra=EXTRA)
        stuck = pipeline.stop(120)  # returns once every record is on disk
        elapsed = time.perf_counter() - start
        if stuck:
            raise RuntimeError("the queue pipeline did not drain")
        return records / elapsed


def file_handler_records_per_second(records: int) -> float:
    """The same records through Python's plain synchronous FileHandler and our formatter."""
    with tempfile.TemporaryDirectory() as tmp:
        handler = logging.FileHandler(Path(tmp) / "plain.log")
        handler.setFormatter(JsonLineFormatter())
        log = logging.getLogger("bench.plain")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        try:
            start = time.perf_counter()
            for _ in range(records):
                log.info(MESSAGE, extra=EXTRA)
            handler.flush()
            return records / (time.perf_counter() - start)
        finally:
            log.removeHandler(handler)
            handler.close()
