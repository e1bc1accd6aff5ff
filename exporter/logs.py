"""The logging pipeline: JSON lines fanned out to one bounded queue and thread per sink."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import time
from collections.abc import Sequence
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from pythonjsonlogger.json import JsonFormatter

from exporter.config import LogLevel
from exporter.metrics import Metrics
from exporter.sinks import FILE_FLAGS, FILE_MODE, Delivery, Reason, Sink, SinkOutcome

CANARY_LOGGER = "exporter.canary"
QUEUE_SIZE = 10_000


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter with the fields named as our lines name them."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,  # RFC 3339, UTC, from the record's creation time
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Put the timestamp first, where people and parsers look for it."""
        return {"timestamp": log_data.pop("timestamp"), **log_data}


class FanoutQueue:
    """The queue a QueueHandler puts into: copies each record to every sink's bounded queue.

    A full queue means its sink is stuck or slow: the record is dropped and counted, and a
    dropped canary fails at once rather than waiting for the timeout.
    """

    def __init__(self, targets: Sequence[tuple[Sink, queue.Queue[Any]]], metrics: Metrics):
        self._targets = targets
        self._dropped = {sink: metrics.records_dropped.labels(sink.name) for sink, _ in targets}

    def put_nowait(self, record: logging.LogRecord) -> None:
        for sink, sink_queue in self._targets:
            try:
                sink_queue.put_nowait(record)
            except queue.Full:
                self._dropped[sink].inc()
                delivery: Delivery | None = getattr(record, "_delivery", None)
                if delivery is not None:
                    error = f"queue full ({sink_queue.maxsize} records waiting): sink is stuck"
                    delivery.report(sink, SinkOutcome(False, Reason.TIMEOUT, error))


class SinkListener(QueueListener):
    """A QueueListener for one sink, that stops within a deadline even when the sink is stuck."""

    def __init__(self, sink_queue: queue.Queue[Any], sink: Sink) -> None:
        # QueueListener only calls handle() on its handlers, which every Sink has.
        super().__init__(sink_queue, sink)  # type: ignore[arg-type]
        self._sink_queue = sink_queue

    def ask_to_stop(self, deadline: float) -> bool:
        """Queue the sentinel behind every record; False if the queue stayed full."""
        try:
            # None is QueueListener's sentinel.
            self._sink_queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            return False
        return True

    def join_by(self, deadline: float) -> bool:
        """Wait for the thread to finish; True if it did before ``deadline``."""
        # QueueListener.stop() would join without a bound; its thread lives in `_thread`.
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            return not thread.is_alive()
        return True


class LogPipeline:
    """Root logger -> QueueHandler (formats once) -> per-sink queue -> sink thread."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        metrics: Metrics,
        level: LogLevel,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.sinks = tuple(sinks)
        self.level = level
        self._metrics = metrics
        queues: list[queue.Queue[Any]] = [queue.Queue(queue_size) for _ in self.sinks]
        self._listeners = [SinkListener(q, s) for s, q in zip(self.sinks, queues, strict=True)]
        fanout = FanoutQueue(list(zip(self.sinks, queues, strict=True)), metrics)
        self._handler = QueueHandler(fanout)  # type: ignore[arg-type]
        self._handler.setFormatter(JsonLineFormatter())
        self._saved_level = logging.NOTSET

    def start(self) -> None:
        """Start the sink threads and route every logger of the process through them."""
        for listener in self._listeners:
            listener.start()
        root = logging.getLogger()
        self._saved_level = root.level
        root.setLevel(self.level.number)
        root.addHandler(self._handler)
        # The canary is written whatever --log.level says: a filtered canary proves nothing.
        logging.getLogger(CANARY_LOGGER).setLevel(logging.INFO)

    def stop(self, timeout: float) -> list[str]:
        """Detach, then drain every queue to its sink; return the sinks not drained in time."""
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._saved_level)
        deadline = time.monotonic() + timeout
        # Every sink drains at once, so a stuck one does not eat the others' time.
        asked = [listener.ask_to_stop(deadline) for listener in self._listeners]
        stuck = [
            sink.name
            for sink, listener, ok in zip(self.sinks, self._listeners, asked, strict=True)
            if not (ok and listener.join_by(deadline))
        ]
        for sink in self.sinks:
            if sink.name not in stuck:
                sink.close()
        return stuck

    async def deliver_canary(
        self, message: str, seconds: float, **fields: str
    ) -> dict[str, SinkOutcome]:
        """Log the canary at INFO through the real pipeline; each sink's outcome, by name."""
        delivery = Delivery(asyncio.get_running_loop(), self.sinks)
        logging.getLogger(CANARY_LOGGER).info(message, extra={**fields, "_delivery": delivery})
        outcomes = await delivery.wait(seconds)
        for name, outcome in outcomes.items():
            if outcome.reason is Reason.TIMEOUT:
                self._metrics.sink_errors.labels(name, Reason.TIMEOUT.value).inc()
        return outcomes


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp's access log as one JSON record per request."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "remote": request.remote,
                "method": request.method,
                "path": request.raw_path,
                "status": response.status,
                "response_bytes": response.body_length,  # headers included, like %b
                "duration_seconds": round(time, 6),
                "user_agent": request.headers.get("User-Agent"),
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def probe_log_file(path: Path) -> str | None:
    """Why ``path`` cannot be opened for appending, or None when it can."""
    try:
        os.close(os.open(path, FILE_FLAGS, FILE_MODE))
    except OSError as error:
        return str(error)
    return None
