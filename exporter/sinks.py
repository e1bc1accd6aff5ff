"""Log sinks that write whole JSON lines and confirm each canary: written, flushed, read back."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Protocol

from exporter.metrics import Metrics


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
# Read-write, so the canary can be read back from the very descriptor it was written with.
FILE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
FILE_MODE = 0o644


class Delivery:
    """One canary on its way: the sinks that must confirm it, and what each of them said.

    Sinks report from their listener threads; the results land on the event loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sinks: Iterable[Sink]) -> None:
        self._loop = loop
        self._pending = {sink: loop.create_future() for sink in sinks}
        self.emitted = time.perf_counter()

    def report(self, sink: Sink, outcome: SinkOutcome) -> None:
        """Record ``sink``'s outcome; safe to call from any thread, late or twice."""
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._settle, sink, outcome)

    def _settle(self, sink: Sink, outcome: SinkOutcome) -> None:
        future = self._pending.get(sink)
        if future is not None and not future.done():
            future.set_result(outcome)

    async def wait(self, seconds: float) -> dict[str, SinkOutcome]:
        """Every sink's outcome by name; a sink silent for ``seconds`` fails with TIMEOUT."""
        if self._pending:
            await asyncio.wait(self._pending.values(), timeout=seconds)
        outcomes = {}
        for sink, future in self._pending.items():
            if future.done():
                outcomes[sink.name] = future.result()
            else:
                future.cancel()
                outcomes[sink.name] = SinkOutcome(
                    False, Reason.TIMEOUT, f"no confirmation within {seconds:g}s"
                )
        return outcomes


Span = tuple[int, int]  # start and length of one line within a batch


class Line(NamedTuple):
    """What a sink's queue holds: one formatted JSON line, and the Delivery if it is a canary."""

    text: str
    delivery: Delivery | None


class Sink(Protocol):
    """What the pipeline needs of a sink: a name, and a ``handle`` run on its own thread."""

    name: str

    def handle(self, lines: Sequence[Line]) -> None:
        """Write a batch of lines at once and confirm the canaries among them."""

    def close(self) -> None:
        """Release what the sink holds open."""


def write_all(fd: int, data: bytes) -> None:
    """Write every byte or raise; a pipe or a nearly full disk may take fewer per call."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _BaseSink:
    """Shared bookkeeping: error counting and canary reporting.

    Sinks are plain objects, not ``logging.Handler``s: a Handler holds its lock while it
    writes, and ``logging.shutdown()`` takes every Handler's lock at exit, so one stuck
    write would hang the process on its way out.
    """

    level = logging.NOTSET  # read by QueueListener when it respects handler levels

    def __init__(self, name: str, metrics: Metrics) -> None:
        self.name = name
        self._errors = {r: metrics.sink_errors.labels(name, r.value) for r in Reason}
        self._latency = metrics.log_delivery.labels(name)

    def handle(self, lines: Sequence[Line]) -> None:
        chunks = [(line.text + "\n").encode("utf-8", "backslashreplace") for line in lines]
        canaries: list[Span] = []
        start = 0
        for line, chunk in zip(lines, chunks, strict=True):
            if line.delivery is not None:
                canaries.append((start, len(chunk)))
            start += len(chunk)
        try:
            outcome = self.deliver(b"".join(chunks), canaries)
        except Exception as error:  # noqa: BLE001 - a sink must never kill its thread
            outcome = SinkOutcome(False, Reason.WRITE, f"unexpected: {error!r}")
        if outcome.reason is not None:
            self._errors[outcome.reason].inc(len(lines))
        for line in lines:
            if line.delivery is not None:
                reported = outcome
                if outcome.ok:
                    seconds = time.perf_counter() - line.delivery.emitted
                    self._latency.observe(seconds)
                    reported = replace(outcome, seconds=seconds)
                line.delivery.report(self, reported)

    def deliver(self, data: bytes, canaries: Sequence[Span]) -> SinkOutcome:
        """Write ``data`` whole; read back the ``canaries`` spans where the sink can."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class StreamSink(_BaseSink):
    """Writes to a file descriptor (stdout), unbuffered: os.write returning is the flush."""

    def __init__(self, name: str, fd: int, metrics: Metrics) -> None:
        super().__init__(name, metrics)
        self._fd = fd

    def deliver(self, data: bytes, canaries: Sequence[Span]) -> SinkOutcome:
        try:
            write_all(self._fd, data)
        except OSError as error:
            return SinkOutcome(False, Reason.WRITE, str(error))
        return OK


class FileSink(_BaseSink):
    """Appends to a file, reopens it when it is moved or deleted, reads each canary back.

    The reopen test is logging.handlers.WatchedFileHandler's: compare the path's device and
    inode with the open descriptor's before each write. Writes go straight to the descriptor,
    so a failed write leaves nothing in a buffer to be repeated by the next flush.
    """

    def __init__(self, name: str, path: Path, metrics: Metrics) -> None:
        super().__init__(name, metrics)
        self.path = path
        # Only the sink's listener thread touches these; close() runs after that thread ends.
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def _ensure_open(self) -> int:
        try:
            st = os.stat(self.path)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            identity = None
        if self._fd is not None and identity == self._identity:
            return self._fd
        self.close()
        fd = os.open(self.path, FILE_FLAGS, FILE_MODE)
        st = os.fstat(fd)
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        return fd

    def close(self) -> None:
        """Close the descriptor; the next record reopens the path."""
        fd, self._fd, self._identity = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def deliver(self, data: bytes, canaries: Sequence[Span]) -> SinkOutcome:
        try:
            fd = self._ensure_open()
        except OSError as error:
            return SinkOutcome(False, Reason.OPEN, str(error))
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as error:
            if written:
                self._cut_partial(fd, written)
            return SinkOutcome(False, Reason.WRITE, str(error))
        if not canaries:
            return OK
        try:
            # With O_APPEND the offset after write() is the end of our own bytes, even if
            # another process appended in between.
            base = os.lseek(fd, 0, os.SEEK_CUR) - len(data)
            for start, length in canaries:
                back = os.pread(fd, length, base + start)
                if back != data[start : start + length]:
                    return SinkOutcome(
                        False,
                        Reason.VERIFY,
                        f"read back {len(back)} bytes at offset {base + start} that differ "
                        f"from the {length} bytes written",
                    )
        except OSError as error:
            return SinkOutcome(False, Reason.VERIFY, f"read-back failed: {error}")
        return OK

    @staticmethod
    def _cut_partial(fd: int, written: int) -> None:
        """Cut off our half-written line so the file keeps only whole JSON lines.

        Only when our bytes are still the file's last ones: never cut another writer's line.
        """
        with contextlib.suppress(OSError):
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if os.fstat(fd).st_size == end >= written:
                os.ftruncate(fd, end - written)
