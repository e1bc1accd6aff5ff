"""The console script as a real process: serving, faults on real sinks, and shutdown."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import CANARY
from tests.integration.conftest import Start
from tests.integration.exporter_process import SCRIPT, finished_lines, lines
from tests.pipes import stuck_pipe
from tests.wait import wait_until


def test_serves_the_smoke_test_and_stops_cleanly_on_sigterm(start: Start, tmp_path: Path) -> None:
    log_file = tmp_path / "exporter.log"
    exporter = start(f"--log.file={log_file}", "--smoke-test.interval=0")
    # It serves before its start-up run has ended: a request then would join that run.
    polls = []

    def ready() -> bool:
        polls.append(exporter.get("/-/ready").status)
        return polls[-1] == 200

    wait_until(ready, "the start-up run ended")
    response = exporter.get("/smoke-test")
    assert response.status == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "file": "ok"}
    assert exporter.get("/-/healthy").status == 200
    assert exporter.get("/-/ready").status == 200
    assert exporter.stop(signal.SIGTERM) == 0
    assert exporter.stderr == ""
    for sink in (tmp_path / "stdout.log", log_file):
        records = lines(sink)
        canaries = [r for r in records if r["message"] == CANARY]
        assert [c["trigger"] for c in canaries] == ["startup", "http"]
        assert canaries[1]["run_id"] == body["run_id"]
        assert [r["message"] for r in records[-2:]] == [
            "Shutting down",
            "Stopped; draining the log queues",
        ]
        assert records[-2]["signal"] == "SIGTERM"
        access = [r for r in records if r["logger"] == "aiohttp.access"]
        # Successful probes are counted, not logged; a failed one (503: not ready) is.
        assert [(a["path"], a["status"]) for a in access] == [
            *(("/-/ready", status) for status in polls if status != 200),
            ("/smoke-test", 200),
        ]


def test_sigint_is_a_clean_stop_too(start: Start) -> None:
    exporter = start()
    assert exporter.stop(signal.SIGINT) == 0
    assert exporter.stderr == ""


def test_dev_full_log_file_fails_with_enospc_while_serving(start: Start) -> None:
    exporter = start("--log.file=/dev/full")
    response = exporter.get("/smoke-test")
    assert response.status == 503
    check = response.json()["checks"]["logging"]
    assert (check["failed_sink"], check["reason"], check["error"]) == (
        "file",
        "write",
        "[Errno 28] No space left on device",
    )
    metrics = exporter.get("/metrics").body.decode()
    assert "smoke_test_success 0.0" in metrics
    assert 'smoke_test_log_sink_errors_total{reason="write",sink="file"}' in metrics
    assert exporter.stop() == 0


def test_unusable_log_file_warns_once_starts_anyway_and_fails_the_smoke_test(
    start: Start, tmp_path: Path
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    exporter = start(f"--log.file={directory}")
    assert exporter.stderr == (
        f"smoke-test-exporter: warning: --log.file is unusable ([Errno 21] Is a directory: "
        f"'{directory}'); starting anyway, and the smoke test fails until it is fixed\n"
    )
    response = exporter.get("/smoke-test")
    assert response.status == 503
    assert response.json()["checks"]["logging"]["reason"] == "open"
    assert exporter.get("/-/healthy").status == 200
    directory.rmdir()
    assert exporter.get("/smoke-test").status == 200
    assert exporter.stop() == 0


def test_stdout_nobody_reads_times_out_then_recovers_when_drained(
    start: Start, tmp_path: Path
) -> None:
    log_file = tmp_path / "exporter.log"
    with stuck_pipe() as pipe:
        exporter = start(
            f"--log.file={log_file}",
            "--smoke-test.timeout=0.5",
            "--smoke-test.interval=0",
            stdout=pipe.write_fd,
            announce=log_file,
        )
        response = exporter.get("/smoke-test")
        assert response.status == 503
        check = response.json()["checks"]["logging"]
        assert (check["failed_sink"], check["reason"], check["error"]) == (
            "stdout",
            "timeout",
            "no confirmation within 0.5s",
        )
        assert check["sinks"] == {"stdout": "fail", "file": "ok"}
        assert exporter.get("/metrics").status == 200
        pipe.drain()
        assert exporter.get("/smoke-test").status == 200
        assert exporter.stop() == 0
    # Nothing was lost while stdout was stuck: it got every line the file got, in order.
    from_stdout = [json.loads(line) for line in pipe.received.decode().splitlines()]
    assert from_stdout == lines(log_file)


def test_closed_stdout_fails_with_epipe_and_keeps_serving(start: Start, tmp_path: Path) -> None:
    log_file = tmp_path / "exporter.log"
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        exporter = start(f"--log.file={log_file}", stdout=write_fd, announce=log_file)
        response = exporter.get("/smoke-test")
        assert response.status == 503
        check = response.json()["checks"]["logging"]
        assert (check["failed_sink"], check["reason"], check["error"]) == (
            "stdout",
            "write",
            "[Errno 32] Broken pipe",
        )
        assert exporter.get("/-/healthy").status == 200
        assert exporter.stop() == 0
    finally:
        os.close(write_fd)


def test_port_in_use_exits_1_with_one_line_and_writes_no_canary(tmp_path: Path) -> None:
    log_file = tmp_path / "exporter.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SCRIPT, f"--web.listen-address=127.0.0.1:{port}", f"--log.file={log_file}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"smoke-test-exporter: cannot listen on 127.0.0.1:{port}: "
        "[Errno 98] Address already in use\n"
    )
    # It bound the port before starting anything: no run, so no canary on any sink (the
    # log file was only opened, to check that it can be written).
    assert result.stdout == ""
    assert log_file.read_text() == ""


def test_sigterm_during_a_stuck_drain_still_exits_within_the_bound(
    start: Start, tmp_path: Path
) -> None:
    log_file = tmp_path / "exporter.log"
    with stuck_pipe() as pipe:
        exporter = start(
            f"--log.file={log_file}",
            "--smoke-test.timeout=0.2",
            stdout=pipe.write_fd,
            announce=log_file,
        )
        began = time.monotonic()
        assert exporter.stop(timeout=20) == 0
        assert time.monotonic() - began < 10
        assert exporter.stderr == "smoke-test-exporter: log sinks not drained within 5s: stdout\n"
    assert lines(log_file)[-1]["message"] == "Stopped; draining the log queues"


def raw_request(url: str, data: bytes) -> bytes:
    """Send raw bytes to the exporter and return what it answers before closing."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_oversized_request_line_and_too_many_headers_get_4xx_and_serving_goes_on(
    start: Start,
) -> None:
    exporter = start()
    long_line = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    many_headers = (
        b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(200))
        + b"\r\n"
    )
    long_header = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 10_000 + b"\r\n\r\n"
    statuses = [
        raw_request(exporter.url, request).split(b"\r\n", 1)[0]
        for request in (long_line, many_headers, long_header)
    ]
    assert statuses == [b"HTTP/1.0 400 Bad Request"] * 3
    assert exporter.get("/-/healthy").status == 200
    assert exporter.stop() == 0


def test_sigterm_lets_a_request_in_flight_finish(start: Start, tmp_path: Path) -> None:
    log_file = tmp_path / "exporter.log"
    with stuck_pipe() as pipe:
        exporter = start(
            f"--log.file={log_file}",
            "--smoke-test.timeout=1.5",
            "--smoke-test.interval=0",
            stdout=pipe.write_fd,
            announce=log_file,
        )
        # The request starts a run of its own once the start-up run, stuck too, has failed.
        wait_until(
            lambda: any(
                line["level"] == "WARNING" and line.get("trigger") == "startup"
                for line in finished_lines(log_file)
            ),
            "the start-up run failed",
        )
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(exporter.get, "/smoke-test")
            # Its canary is in the file: the run has begun, and waits on the stuck stdout.
            wait_until(
                lambda: any(
                    line["message"] == CANARY and line.get("trigger") == "http"
                    for line in finished_lines(log_file)
                ),
                "the request's run logged its canary",
            )
            exporter.process.send_signal(signal.SIGTERM)
            response = in_flight.result(timeout=10)
        assert response.status == 503
        assert response.json()["checks"]["logging"]["reason"] == "timeout"
        pipe.drain()
        assert exporter.process.wait(15) == 0
    messages = [line["message"] for line in lines(log_file)]
    assert messages.index("Shutting down") < messages.index("GET /smoke-test 503")
    assert messages[-1] == "Stopped; draining the log queues"
