"""Hostile config files against the real process: each is one line and exit 2 at start-up,
and a failed reload at SIGHUP that never stops the server answering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import Start
from tests.integration.exporter_process import SCRIPT, ExporterProcess, Response, finished_lines
from tests.support.config_files import HOSTILE_FILES, HOSTILE_SECRETS, with_token_file
from tests.wait import wait_until


def start_with(config: Path) -> subprocess.CompletedProcess[bytes]:
    """The exporter started with ``config``, run until it exits (a refused file exits 2)."""
    return subprocess.run(
        [SCRIPT, "--web.listen-address=127.0.0.1:0", f"--config.file={config}"],
        capture_output=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("case", HOSTILE_FILES, ids=str)
def test_a_hostile_config_file_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    text, problem = HOSTILE_FILES[case]
    path = tmp_path / "smoke-test.yml"
    path.write_text(text)
    result = start_with(path)
    assert result.returncode == 2
    assert (
        result.stderr.decode() == f"smoke-test-exporter: error: --config.file: {path}: {problem}\n"
    )
    assert result.stdout == b""  # it never started: no canary


def post(exporter: ExporterProcess, path: str) -> Response:
    """POST an empty body to ``path``: the status and body of the answer, whatever its status."""
    request = urllib.request.Request(exporter.url + path, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return Response(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


@pytest.mark.parametrize("case", HOSTILE_SECRETS, ids=str)
def test_a_hostile_token_file_exits_2_with_one_line_naming_its_key(
    tmp_path: Path, case: str
) -> None:
    content, problem = HOSTILE_SECRETS[case]
    text, token = with_token_file(tmp_path, content)
    path = tmp_path / "smoke-test.yml"
    path.write_text(text)
    result = start_with(path)
    assert result.returncode == 2
    error = f"checks[0].bearer_token_file: {problem.format(path=token)}"
    assert result.stderr.decode() == f"smoke-test-exporter: error: --config.file: {path}: {error}\n"
    assert result.stdout == b""


@pytest.mark.parametrize("case", HOSTILE_SECRETS, ids=str)
def test_a_hostile_token_file_fails_the_reload_with_400_and_keeps_serving(
    start: Start, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text("checks: [{name: logging, type: logging}]\n")
    exporter = start(f"--config.file={path}", "--smoke-test.interval=0")
    exporter.wait_ready()
    content, problem = HOSTILE_SECRETS[case]
    text, token = with_token_file(tmp_path, content)
    path.write_text(text)
    error = f"--config.file: {path}: checks[0].bearer_token_file: {problem.format(path=token)}"
    answer = post(exporter, "/-/reload")
    assert (answer.status, json.loads(answer.body)) == (
        400,
        {"status": 400, "error": "Bad Request", "message": error},
    )
    scrape = exporter.get("/metrics").body.decode().splitlines()
    assert "smoke_test_exporter_config_last_reload_successful 0.0" in scrape
    assert exporter.get("/smoke-test").status == 200  # the logging check, as before


def test_sighup_with_a_fifo_for_the_config_file_fails_the_reload_and_keeps_serving(
    start: Start, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text("checks: [{name: logging, type: logging}]\n")
    exporter = start(f"--config.file={path}", "--smoke-test.interval=0")
    exporter.wait_ready()
    path.unlink()
    os.mkfifo(path)  # nobody writes: an open() for reading would wait for ever
    exporter.process.send_signal(signal.SIGHUP)
    error = f"--config.file: {path}: cannot read it: not a regular file"
    wait_until(
        lambda: any(line["message"] == error for line in finished_lines(tmp_path / "stdout.log")),
        "the reload's WARNING",
    )
    assert exporter.get("/-/healthy").status == 200
    assert exporter.get("/smoke-test").status == 200
    scrape = exporter.get("/metrics").body.decode().splitlines()
    assert "smoke_test_exporter_config_last_reload_successful 0.0" in scrape


def test_an_empty_basic_auth_users_starts_open_with_a_warning(start: Start, tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users: {}\n")
    exporter = start(f"--web.config.file={web}")
    exporter.wait_ready()
    assert exporter.stderr == (
        "smoke-test-exporter: warning: --web.config.file: basic_auth_users is empty: "
        "every endpoint answers without authentication\n"
    )
    assert exporter.get("/smoke-test").status == 200  # as exporter-toolkit: open
