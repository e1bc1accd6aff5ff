"""The ``stdout`` sink: unbuffered writes to a file descriptor."""

from __future__ import annotations

import os
from dataclasses import dataclass

from exporter.sinks.base import OK, Batch, Reason, Sink, SinkDeps, SinkOutcome, SinkType
from exporter.sinks.series import SinkSeries


@dataclass(frozen=True)
class StdoutOptions:
    """``type: stdout`` takes no options."""


def write_all(fd: int, data: bytes) -> None:
    """Write every byte or raise; a pipe or a nearly full disk may take fewer per call."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class StreamSink(Sink):
    """Writes to a file descriptor (stdout), unbuffered: os.write returning is the flush."""

    def __init__(self, name: str, fd: int, series: SinkSeries) -> None:
        super().__init__(name, series)
        self._fd = fd

    def deliver(self, batch: Batch) -> SinkOutcome:
        try:
            write_all(self._fd, batch.data)
        except OSError as error:
            return SinkOutcome(False, Reason.WRITE, str(error))
        return OK


def build(name: str, options: StdoutOptions, deps: SinkDeps) -> Sink:
    """The process's standard output."""
    return StreamSink(name, deps.stdout_fd, deps.series)


TYPE = SinkType(StdoutOptions, build, "the exporter's standard output, unbuffered")
