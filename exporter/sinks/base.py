"""What every log sink shares: canary deliveries, batches of lines, and the Sink base class."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Generic, NamedTuple, TypeVar

from exporter.sinks.series import SinkSeries

OptionsT = TypeVar("OptionsT")
# The ``reason`` label of the dropped-records counter.
DROP_REASONS = ("queue_full", "rate_limit")


class Reason(enum.Enum):
    """Why a sink failed to deliver: the ``reason`` label of the sink-error counter."""

    WRITE = "write"
    OPEN = "open"
    TIMEOUT = "timeout"
    VERIFY = "verify"


@dataclass(frozen=True)
class SinkOutcome:
    """What one sink said about one canary."""

    ok: bool
    reason: Reason | None = None
    error: str | None = None
    seconds: float | None = None  # from emitting the canary to this confirmation


OK = SinkOutcome(ok=True)


def timed_out(error: str) -> SinkOutcome:
    """A canary a sink did not confirm in time: it stayed silent, its queue was full, or its
    send took too long."""
    return SinkOutcome(False, Reason.TIMEOUT, error)


class Delivery:
    """One canary on its way: the sinks that must confirm it, and what each of them said.

    Sinks report from their threads; the results land on the event loop, where the first one
    for a sink decides and a failure is counted on that sink's error counter.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sinks: Iterable[Sink]) -> None:
        self._loop = loop
        self._pending = {sink: loop.create_future() for sink in sinks}
        self.emitted = time.perf_counter()

    def report(self, sink: Sink, outcome: SinkOutcome) -> None:
        """Record ``sink``'s outcome; safe to call from any thread, late or twice."""
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._settle, sink, outcome)

    def give_up(self, sink: Sink, error: str) -> None:
        """``sink`` will never confirm this canary (its queue is full): a timeout at once."""
        self.report(sink, timed_out(error))

    def _settle(self, sink: Sink, outcome: SinkOutcome) -> None:
        """The first outcome for ``sink`` is the canary's, and the only one its error counter
        counts: a batch stuck past the deadline reports again when it ends."""
        future = self._pending.get(sink)
        if future is not None and not future.done():
            future.set_result(outcome)
            sink.count_failed(outcome, 1)

    async def wait(self, seconds: float, timeout_text: str) -> dict[str, SinkOutcome]:
        """Every sink's outcome by name; a sink silent for ``seconds`` fails with TIMEOUT."""
        if self._pending:
            await asyncio.wait(self._pending.values(), timeout=seconds)
        silent = timed_out(f"no confirmation within {timeout_text}")
        for sink, future in self._pending.items():
            if not future.done():
                self._settle(sink, silent)
        return {sink.name: future.result() for sink, future in self._pending.items()}


class Line(NamedTuple):
    """What a sink's queue holds: one formatted JSON line, the Delivery if it is a canary, and
    the record's level and creation time (for a sink with a header of its own, as syslog's)."""

    text: str
    delivery: Delivery | None
    level: int = logging.INFO
    created: float = 0.0  # Unix time


Span = tuple[int, int]  # start and length of one line within a batch's bytes


class Batch:
    """The lines a sink takes at once, as text or as one block of newline-ended bytes."""

    def __init__(self, lines: Sequence[Line]) -> None:
        self.lines = lines

    @cached_property
    def encoded(self) -> list[bytes]:
        """Each line as UTF-8 with its newline."""
        return [(line.text + "\n").encode("utf-8", "backslashreplace") for line in self.lines]

    @cached_property
    def data(self) -> bytes:
        """Every line, joined: one write for the whole batch."""
        return b"".join(self.encoded)

    @cached_property
    def canaries(self) -> list[Span]:
        """Where in ``data`` each canary line lies."""
        spans: list[Span] = []
        start = 0
        for line, chunk in zip(self.lines, self.encoded, strict=True):
            if line.delivery is not None:
                spans.append((start, len(chunk)))
            start += len(chunk)
        return spans


class Sink:
    """A log sink: takes batches of lines on its own thread and confirms the canaries in them.

    A subclass implements ``deliver``; the base counts errors (a canary's on its Delivery) and
    reports every canary. Sinks are plain objects, not ``logging.Handler``s: a Handler holds
    its lock while it writes, and ``logging.shutdown()`` takes every Handler's lock at exit, so
    one stuck write would hang the process on its way out.
    """

    def __init__(self, name: str, series: SinkSeries) -> None:
        self.name = name
        self.series = series
        self._errors = {r: series.errors.labels(name, r.value) for r in Reason}
        self._latency = series.delivery.labels(name)
        for drop in DROP_REASONS:
            series.dropped.labels(name, drop)

    def remove_series(self) -> None:
        """Take this sink's series out of the registry: it is no longer configured."""
        s = self.series
        for reason in Reason:
            s.errors.remove(self.name, reason.value)
        for drop in DROP_REASONS:
            s.dropped.remove(self.name, drop)
        s.delivery.remove(self.name)

    def count_failed(self, outcome: SinkOutcome, records: int) -> None:
        """Count ``records`` this sink failed to deliver, under ``outcome``'s reason."""
        if outcome.reason is not None:
            self._errors[outcome.reason].inc(records)

    def handle(self, lines: Sequence[Line]) -> None:
        """Deliver a batch of lines and report the outcome to each canary among them."""
        try:
            outcome = self.deliver(Batch(lines))
        except Exception as error:  # noqa: BLE001 - a sink must never kill its thread
            outcome = SinkOutcome(False, Reason.WRITE, f"unexpected: {error!r}")
        deliveries = [line.delivery for line in lines if line.delivery is not None]
        # A canary is counted by its Delivery, once: its deadline may have passed, and its
        # timeout been counted, before this batch ended.
        self.count_failed(outcome, len(lines) - len(deliveries))
        for delivery in deliveries:
            reported = outcome
            if outcome.ok:
                seconds = time.perf_counter() - delivery.emitted
                self._latency.observe(seconds)
                reported = replace(outcome, seconds=seconds)
            delivery.report(self, reported)

    def deliver(self, batch: Batch) -> SinkOutcome:
        """Send the batch whole; confirm its canaries as far as the sink can (read back)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds open; called after its thread has ended."""


@dataclass(frozen=True)
class SinkDeps:
    """What a sink may take from the app when it is built."""

    series: SinkSeries
    stdout_fd: int


@dataclass(frozen=True)
class SinkType(Generic[OptionsT]):
    """One kind of sink: its options (a frozen dataclass, read from the config file) and how
    to build one from them."""

    options: type[OptionsT]
    build: Callable[[str, OptionsT, SinkDeps], Sink]
    summary: str
