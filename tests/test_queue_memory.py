"""A stuck sink's queue is bounded: memory stays small, drops are counted, the canary fails."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry

from exporter.config import LogLevel
from exporter.logs.pipeline import QUEUE_SIZE, LogPipeline
from exporter.sinks import Reason
from exporter.sinks.series import SinkSeries
from exporter.sinks.stream import StreamSink, write_all
from tests.conftest import CANARY
from tests.pipes import stuck_pipe
from tests.wait import until

OFFERED = 100_000
# A realistic application line: about 200 characters of message, and two context fields.
MESSAGE = (
    "Order %d processed for customer %s: 3 items, total 149.97 EUR, shipped via express "
    "courier to warehouse eu-central-1b after fraud screening passed (score 0.02) and the "
    "inventory was reserved"
)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process, after collecting garbage."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def blocked_in_write(thread_name: str) -> bool:
    """Whether the thread named ``thread_name`` is inside ``write_all``: its batch is taken whole,
    and no line queued from now on can join it."""
    idents = [thread.ident for thread in threading.enumerate() if thread.name == thread_name]
    frames = sys._current_frames()
    return any(ident in frames and frames[ident].f_code is write_all.__code__ for ident in idents)


@contextlib.contextmanager
def without_pytest_log_capture() -> Iterator[None]:
    """Detach pytest's own handlers from the root logger for a while.

    pytest's LogCaptureHandlers keep every record they see in a list, so 100 000 records
    would grow memory by far more than the pipeline does and measure pytest, not the exporter.
    pytest attaches them for the call phase only, after fixtures: hence a context manager.
    """
    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in saved:
            root.addHandler(handler)


async def test_stuck_sink_keeps_memory_bounded_counts_drops_and_fails_the_canary_at_once() -> None:
    registry = CollectorRegistry()
    series = SinkSeries(registry)

    def sample(name: str, reason: str) -> float | None:
        return registry.get_sample_value(name, {"sink": "stdout", "reason": reason})

    log = logging.getLogger("exporter.test")
    with without_pytest_log_capture(), stuck_pipe() as pipe:
        pipeline = LogPipeline([StreamSink("stdout", pipe.write_fd, series)], LogLevel.INFO)
        pipeline.start()
        try:
            log.info(MESSAGE, 0, "c-00000", extra={"order_id": 0, "customer": "c-00000"})
            # Once taken, the first line is alone in its batch only when the thread is already
            # in write(): between its get() and write(), a line queued now would join the batch.
            await until(
                lambda: pipeline.waiting()["stdout"] == 0 and blocked_in_write("sink-stdout"),
                "the sink thread took the first line and blocks in write()",
            )
            before = rss_bytes()
            for n in range(1, OFFERED):
                customer = f"c-{n:05d}"
                log.info(MESSAGE, n, customer, extra={"order_id": n, "customer": customer})
            growth = rss_bytes() - before
            # Measured: 4.4 MiB (three runs, 4.39-4.40 MiB): the 10 000 queued lines of 348
            # characters each, with their Line tuples. Everything else was dropped, not kept.
            assert growth < 20 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"

            # One line is stuck in write(), QUEUE_SIZE wait in the queue, the rest are dropped.
            dropped = OFFERED - (QUEUE_SIZE + 1)
            assert sample("smoke_test_log_records_dropped_total", "queue_full") == dropped

            began = time.perf_counter()
            outcomes = await pipeline.deliver_canary(CANARY, 5.0, run_id="r1", trigger="http")
            assert time.perf_counter() - began < 0.5  # at once, not after the 5 s timeout
            outcome = outcomes["stdout"]
            assert (outcome.ok, outcome.reason, outcome.error) == (
                False,
                Reason.TIMEOUT,
                f"queue full ({QUEUE_SIZE} records waiting): sink is stuck",
            )
            assert sample("smoke_test_log_records_dropped_total", "queue_full") == dropped + 1
            assert sample("smoke_test_log_sink_errors_total", "timeout") == 1
            assert sample("smoke_test_log_sink_errors_total", "write") == 0
        finally:
            pipe.drain()
            began = time.perf_counter()
            stuck = pipeline.stop(5.0)
            stopped_in = time.perf_counter() - began
        assert stuck == []
        assert stopped_in < 5.0
    # The sink got exactly the lines that were not dropped: the stuck one, then the queue's.
    received = [json.loads(line) for line in pipe.received.decode().splitlines()]
    assert len(received) == QUEUE_SIZE + 1
    assert [line["order_id"] for line in received] == list(range(QUEUE_SIZE + 1))
    assert CANARY not in {line["message"] for line in received}
