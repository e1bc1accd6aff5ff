"""Broken sinks: each fault fails the smoke test with its cause, then recovers with no restart.

Tests run as root, so permission bits cannot break a sink; these faults are real ones: a full
device, a directory in the file's place, a removed directory, rotation, a FIFO that cannot be
read back, a closed pipe and a pipe nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from exporter.config import LogLevel
from exporter.web.keys import LOGS
from tests.conftest import CANARY, Exporter, StartExporter
from tests.disks import tiny_filesystem
from tests.pipes import stuck_pipe
from tests.wait import until

# Only canaries reach the sinks at this level, which makes sink-error counts exact.
QUIET = {"log_level": LogLevel.ERROR}


def file_errors(exporter: Exporter, reason: str, sink: str = "file") -> float:
    return exporter.sample("smoke_test_log_sink_errors_total", sink=sink, reason=reason)


def assert_failed(
    status: int, body: dict[str, Any], sink: str, reason: str, error: str
) -> dict[str, Any]:
    """The 503 body of a run that failed on ``sink``."""
    assert status == 503
    assert body["status"] == "fail"
    assert body["message"] == f"Smoke test failed: check logging failed on sink {sink}: {error}"
    check: dict[str, Any] = body["checks"]["logging"]
    assert check["status"] == "fail"
    assert check["failed_sink"] == sink
    assert check["reason"] == reason
    assert check["error"] == error
    assert check["sinks"][sink] == "fail"
    return check


async def assert_recovers(exporter: Exporter) -> str:
    """The next run passes, and the file holds its canary exactly once, among whole lines."""
    status, body = await exporter.smoke()
    assert status == 200, body
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "file": "ok"}
    assert exporter.sample("smoke_test_success") == 1
    assert exporter.sample("smoke_test_check_success", check="logging") == 1
    lines = exporter.file_lines()  # fails on any partial or non-JSON line
    assert [line["run_id"] for line in lines if line.get("message") == CANARY].count(
        body["run_id"]
    ) == 1
    return str(body["run_id"])


async def test_full_device_fails_with_enospc_and_recovers(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    link = tmp_path / "logs" / "exporter.log"
    link.symlink_to("/dev/full")
    exporter = await start_exporter(**QUIET)
    before = file_errors(exporter, "write")
    failures = exporter.sample("smoke_test_failures_total", trigger="http")
    status, body = await exporter.smoke()
    check = assert_failed(status, body, "file", "write", "[Errno 28] No space left on device")
    assert check["sinks"] == {"stdout": "ok", "file": "fail"}
    assert file_errors(exporter, "write") == before + 1
    assert exporter.sample("smoke_test_failures_total", trigger="http") == failures + 1
    assert exporter.sample("smoke_test_success") == 0
    assert exporter.sample("smoke_test_check_success", check="logging") == 0
    link.unlink()  # the path is free again: the sink opens a regular file there
    await assert_recovers(exporter)
    assert file_errors(exporter, "write") == before + 1


async def test_directory_in_the_files_place_fails_to_open_and_recovers(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter(**QUIET)
    log_path.unlink()
    log_path.mkdir()
    before = file_errors(exporter, "open")
    status, body = await exporter.smoke()
    assert_failed(status, body, "file", "open", f"[Errno 21] Is a directory: '{log_path}'")
    assert file_errors(exporter, "open") == before + 1
    log_path.rmdir()
    run_id = await assert_recovers(exporter)
    assert [line["run_id"] for line in exporter.file_lines()] == [run_id]


async def test_removed_directory_fails_to_open_and_recovers_when_recreated(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter(**QUIET)
    shutil.rmtree(log_path.parent)
    status, body = await exporter.smoke()
    assert_failed(
        status, body, "file", "open", f"[Errno 2] No such file or directory: '{log_path}'"
    )
    log_path.parent.mkdir()
    run_id = await assert_recovers(exporter)
    assert [line["run_id"] for line in exporter.file_lines()] == [run_id]


async def test_renamed_file_is_reopened_at_the_path(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter(**QUIET)
    rotated = log_path.with_suffix(".log.1")
    log_path.rename(rotated)
    run_id = await assert_recovers(exporter)
    assert [line["run_id"] for line in exporter.file_lines()] == [run_id]
    assert [line["trigger"] for line in map(_json, rotated.read_text().splitlines())] == ["startup"]


async def test_deleted_file_is_recreated(start_exporter: StartExporter, log_path: Path) -> None:
    exporter = await start_exporter(**QUIET)
    log_path.unlink()
    run_id = await assert_recovers(exporter)
    assert [line["run_id"] for line in exporter.file_lines()] == [run_id]


async def test_copytruncate_rotation_is_read_back_from_the_new_end(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter(**QUIET)
    shutil.copy(log_path, log_path.with_suffix(".log.1"))
    os.truncate(log_path, 0)
    run_id = await assert_recovers(exporter)
    assert [line["run_id"] for line in exporter.file_lines()] == [run_id]


async def test_fifo_cannot_be_read_back_and_fails_verification(
    start_exporter: StartExporter, log_path: Path
) -> None:
    os.mkfifo(log_path)
    exporter = await start_exporter(**QUIET)
    before = file_errors(exporter, "verify")
    status, body = await exporter.smoke()
    assert_failed(status, body, "file", "verify", "read-back failed: [Errno 29] Illegal seek")
    assert file_errors(exporter, "verify") == before + 1
    log_path.unlink()
    await assert_recovers(exporter)


async def test_closed_stdout_pipe_fails_with_epipe(start_exporter: StartExporter) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        exporter = await start_exporter(stdout_fd=write_fd, **QUIET)
        before = file_errors(exporter, "write", sink="stdout")
        status, body = await exporter.smoke()
        check = assert_failed(status, body, "stdout", "write", "[Errno 32] Broken pipe")
        assert check["sinks"] == {"stdout": "fail", "file": "ok"}
        assert file_errors(exporter, "write", sink="stdout") == before + 1
        await exporter.client.close()
    finally:
        os.close(write_fd)


async def test_stuck_stdout_times_out_while_metrics_still_answer_then_recovers(
    start_exporter: StartExporter,
) -> None:
    with stuck_pipe() as pipe:
        exporter = await start_exporter(stdout_fd=pipe.write_fd, timeout_seconds=1.0, **QUIET)
        before = file_errors(exporter, "timeout", sink="stdout")
        waiting = exporter.app[LOGS].waiting
        # Only canaries reach stdout: the start-up one is stuck in write(), none is queued.
        await until(lambda: waiting()["stdout"] == 0, "stdout took the start-up canary")
        smoke = asyncio.create_task(exporter.smoke())
        await until(lambda: waiting()["stdout"] == 1, "the run's canary waits for stdout")
        # The run is waiting on stdout; the event loop is not.
        async with exporter.client.get("/metrics") as response:
            assert response.status == 200
            assert "smoke_test_success" in await response.text()
        async with exporter.client.get("/-/healthy") as response:
            assert response.status == 200
        assert not smoke.done()
        status, body = await smoke
        check = assert_failed(status, body, "stdout", "timeout", "no confirmation within 1s")
        assert check["sinks"] == {"stdout": "fail", "file": "ok"}
        assert file_errors(exporter, "timeout", sink="stdout") == before + 1
        pipe.drain()
        status, body = await exporter.smoke()
        assert status == 200
        assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "file": "ok"}
        await exporter.client.close()
    # Everything queued behind the stuck write reached stdout once it drained, in whole lines.
    lines = [_json(line) for line in pipe.received.decode().splitlines()]
    assert [line["trigger"] for line in lines if line["message"] == CANARY] == [
        "startup",
        "http",
        "http",
    ]


def fill(path: Path) -> None:
    """Write to ``path`` until the filesystem refuses."""
    with path.open("ab", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 512)


async def test_real_full_disk_leaves_only_whole_lines_and_recovers_when_space_is_freed(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        log_path = disk / "exporter.log"
        exporter = await start_exporter(log_file=log_path, **QUIET)
        try:
            await _fill_then_free(exporter, disk, log_path)
        finally:
            await exporter.client.close()  # the file sink lets go of the disk before umount


async def _fill_then_free(exporter: Exporter, disk: Path, log_path: Path) -> None:
    """Fill the disk mid-line, then free it."""
    # Leave 100 bytes in the log file's last page, then fill every other page: the next
    # canary is written in part before the disk refuses the rest.
    size = log_path.stat().st_size
    pad = 4096 - 100 - size % 4096 - len('{"pad": ""}\n')
    with log_path.open("a") as f:
        f.write('{"pad": "' + "x" * pad + '"}\n')
    fill(disk / "filler")
    size = log_path.stat().st_size
    status, body = await exporter.smoke()
    assert_failed(status, body, "file", "write", "[Errno 28] No space left on device")
    assert log_path.stat().st_size == size  # the partial line was cut off again
    exporter.file_lines()  # whole JSON lines only
    (disk / "filler").unlink()
    await assert_recovers(exporter)


def _json(line: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(line)
    return result
