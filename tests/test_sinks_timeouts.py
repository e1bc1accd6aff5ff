"""A canary that times out counts once on its sink's error counter: not twice when the sink's
own send times out, and not again when a batch stuck past the run's deadline ends later.

Real stuck receivers: a syslog socket that is never read, a pipe nobody reads, a FIFO in the
log file's place."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import LogLevel
from exporter.logs.pipeline import LogPipeline
from exporter.sinks import Reason, Sink, SinkOutcome
from exporter.sinks.file import FileSink
from exporter.sinks.series import SinkSeries
from exporter.sinks.stream import StreamSink
from exporter.sinks.syslog import SEND_TIMEOUT, SyslogOptions, SyslogSink, Transport
from tests.conftest import CANARY, StartExporter

ERRORS = "smoke_test_log_sink_errors_total"
REASONS = [reason.value for reason in Reason]
PIPE_SIZE = 4096


def unread_receiver(path: Path) -> socket.socket:
    """A Unix datagram socket at ``path`` (as /dev/log is) that nobody reads."""
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    return receiver


@contextlib.contextmanager
def filled(path: Path) -> Iterator[None]:
    """Fill the receiver at ``path`` from other sockets until its queue is full: a send to it
    then blocks. Filled when a new socket cannot send even one datagram (one socket alone may
    run out of its own send buffer first)."""
    fillers: list[socket.socket] = []
    try:
        while True:
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            fillers.append(filler)
            filler.connect(str(path))
            filler.setblocking(False)
            sent = 0
            with contextlib.suppress(BlockingIOError):
                while True:
                    filler.send(b"x")
                    sent += 1
            if sent == 0:
                break
        yield
    finally:
        for filler in fillers:
            filler.close()


def errors(registry: CollectorRegistry, sink: str) -> dict[str, float | None]:
    """The sink's error counter by reason."""
    return {r: registry.get_sample_value(ERRORS, {"sink": sink, "reason": r}) for r in REASONS}


def counted(**reasons: float) -> dict[str, float]:
    """An error counter by reason: ``reasons``, every other reason at 0."""
    return {reason: reasons.get(reason, 0.0) for reason in REASONS}


@contextlib.contextmanager
def running(sink: Sink) -> Iterator[LogPipeline]:
    """A pipeline with ``sink`` alone, at ERROR: the canaries are the only lines it gets."""
    pipeline = LogPipeline([sink], LogLevel.ERROR)
    pipeline.start()
    try:
        yield pipeline
    finally:
        pipeline.stop(5.0)


def scraped(text: str, sink: str) -> dict[str, float]:
    """The sink's error counter by reason, as /metrics shows it."""
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == ERRORS and sample.labels["sink"] == sink
    }


async def test_a_syslog_send_timeout_counts_its_canary_once_on_metrics(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    config = tmp_path / "smoke-test.yml"
    # The check waits longer than a send may take: the sink's own timeout decides.
    config.write_text(
        f"sinks:\n  - {{name: syslog, type: syslog, protocol: unix, address: '{log}'}}\n"
        "checks:\n  - {name: logging, type: logging, timeout: 15s}\n"
    )
    with unread_receiver(log):
        exporter = await start_exporter(config_file=config, log_level=LogLevel.ERROR)
        async with exporter.client.get("/metrics") as response:
            before = scraped(await response.text(), "syslog")
        with filled(log):
            status, body = await exporter.smoke()
        async with exporter.client.get("/metrics") as response:
            after = scraped(await response.text(), "syslog")
    assert status == 503
    check = body["checks"]["logging"]
    assert (check["failed_sink"], check["reason"]) == ("syslog", "timeout")
    assert check["error"] == f"send took over {SEND_TIMEOUT:g}s"
    assert after == {reason: before[reason] + (reason == "timeout") for reason in REASONS}


async def test_a_syslog_canary_past_its_deadline_counts_once_when_its_send_times_out(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    log = tmp_path / "log"
    sink = SyslogSink(
        "syslog", SyslogOptions(str(log), Transport.UNIX), "web-1", SinkSeries(registry)
    )
    with unread_receiver(log), filled(log), running(sink) as pipeline:
        late = await pipeline.deliver_canary(CANARY, 0.5)
        assert late == {"syslog": SinkOutcome(False, Reason.TIMEOUT, "no confirmation within 0.5s")}
        # A new receiver at the path; the stuck send stays on the old one until it times out.
        log.unlink()
        with unread_receiver(log):
            # Behind the stuck batch: taken once that send timed out, on a new connection.
            after = await pipeline.deliver_canary(CANARY, SEND_TIMEOUT + 10.0)
    assert after["syslog"].ok
    assert errors(registry, "syslog") == counted(timeout=1)
    delivered = registry.get_sample_value(
        "smoke_test_log_delivery_seconds_count", {"sink": "syslog"}
    )
    assert delivered == 1


class FullPipe:
    """A small pipe, full: a write to it blocks until its read end is read or closed."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        os.set_blocking(self.write_fd, False)
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(self.write_fd, b"x" * PIPE_SIZE)
        os.set_blocking(self.write_fd, True)
        self.reader_open = True

    def close_reader(self) -> None:
        """Nobody reads any more: a write fails with a broken pipe, one stuck in it too."""
        os.close(self.read_fd)
        self.reader_open = False


@pytest.fixture
def full_pipe() -> Iterator[FullPipe]:
    pipe = FullPipe()
    yield pipe
    if pipe.reader_open:
        os.close(pipe.read_fd)
    os.close(pipe.write_fd)


async def test_a_stdout_canary_past_its_deadline_counts_once_when_its_write_fails(
    full_pipe: FullPipe,
) -> None:
    registry = CollectorRegistry()
    with running(StreamSink("stdout", full_pipe.write_fd, SinkSeries(registry))) as pipeline:
        late = await pipeline.deliver_canary(CANARY, 0.5)
        assert late == {"stdout": SinkOutcome(False, Reason.TIMEOUT, "no confirmation within 0.5s")}
        full_pipe.close_reader()  # the stuck write fails: broken pipe
        # Behind the stuck batch: it fails on its own, and counts its own error.
        after = await pipeline.deliver_canary(CANARY, 10.0)
    broken = SinkOutcome(False, Reason.WRITE, "[Errno 32] Broken pipe")
    assert after == {"stdout": broken}
    assert errors(registry, "stdout") == counted(timeout=1, write=1)


async def test_a_file_canary_past_its_deadline_counts_once_when_its_read_back_fails(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    path = tmp_path / "exporter.log"
    os.mkfifo(path)
    # The FIFO in the file's place, full: the sink's write blocks until it is read.
    fifo = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        with contextlib.suppress(BlockingIOError):
            while True:
                os.write(fifo, b"x" * PIPE_SIZE)
        with running(FileSink("file", path, SinkSeries(registry))) as pipeline:
            late = await pipeline.deliver_canary(CANARY, 0.5)
            assert late == {
                "file": SinkOutcome(False, Reason.TIMEOUT, "no confirmation within 0.5s")
            }
            with contextlib.suppress(BlockingIOError):
                while os.read(fifo, 65536):
                    pass  # the stuck write goes through, and its read-back fails
            after = await pipeline.deliver_canary(CANARY, 10.0)
    finally:
        os.close(fifo)
    unreadable = SinkOutcome(False, Reason.VERIFY, "read-back failed: [Errno 29] Illegal seek")
    assert after == {"file": unreadable}
    assert errors(registry, "file") == counted(timeout=1, verify=1)
