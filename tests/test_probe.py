"""The probe subcommand against a real exporter: exit 0 on 200, 1 otherwise, 2 for bad input."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.config import ListenAddress
from exporter.probe import LISTEN_ENV, local_url, probe, target_url
from tests.conftest import StartExporter


async def run_probe(url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    # probe() blocks; the exporter it asks runs on this loop.
    code = await asyncio.to_thread(probe, url, 5.0, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_probe_prints_the_body_and_exits_0_on_200(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    code, out, err = await run_probe(str(exporter.client.make_url("/smoke-test")))
    assert (code, err) == (0, "")
    assert out.endswith("\n")
    assert json.loads(out)["status"] == "ok"


async def test_probe_exits_1_on_503_and_still_prints_the_body(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter()
    log_path.unlink()
    log_path.mkdir()
    code, out, err = await run_probe(str(exporter.client.make_url("/smoke-test")))
    assert (code, err) == (1, "")
    assert json.loads(out)["checks"]["logging"]["reason"] == "open"


async def test_probe_of_liveness_prints_its_text(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    assert await run_probe(str(exporter.client.make_url("/-/healthy"))) == (0, "Healthy\n", "")


def test_probe_exits_1_with_one_line_when_nothing_answers() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert probe("http://127.0.0.1:1/smoke-test", 5.0, out, err) == 1
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "smoke-test-exporter probe: cannot reach http://127.0.0.1:1/smoke-test: "
        "[Errno 111] Connection refused\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "ftp://x/"], "'ftp://x/' is not an http:// or https:// URL, nor a path"),
        (["probe", "healthy"], "'healthy' is not an http:// or https:// URL, nor a path"),
        (
            ["probe", "--web.listen-address=9707"],
            "--web.listen-address: '9707' has no port: use host:port, :port or [v6]:port",
        ),
        (["probe", "--timeout=-1"], "'-1' must be a finite number of seconds, not negative"),
        (["probe", "--nope"], "unrecognized arguments: --nope"),
        (["probe", "a", "b"], "unrecognized arguments: b"),
    ],
)
def test_probe_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args, {}) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"smoke-test-exporter probe: error: {message}\n")


def test_probe_subcommand_runs_from_the_console_script() -> None:
    script = str(Path(sys.executable).parent / "smoke-test-exporter")
    result = subprocess.run(
        [script, "probe", "http://127.0.0.1:1/"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("smoke-test-exporter probe: cannot reach http://127.0.0.1:1/")


def test_main_help_mentions_the_probe_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], {}) == 0
    assert "smoke-test-exporter probe [URL|PATH]" in " ".join(capsys.readouterr().out.split())


def run_script(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command, in a process of its own with only ``environ``."""
    script = str(Path(sys.executable).parent / "smoke-test-exporter")
    return subprocess.run(
        [script, *args], capture_output=True, text=True, timeout=30, check=False, env=environ
    )


async def test_probe_of_a_path_asks_the_listen_address_of_the_flag(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    args = ["probe", "/-/healthy", f"--web.listen-address=127.0.0.1:{exporter.client.port}"]
    done = await asyncio.to_thread(run_script, args, {LISTEN_ENV: ":1"})
    assert (done.returncode, done.stdout, done.stderr) == (0, "Healthy\n", "")


async def test_probe_of_a_path_asks_the_listen_address_of_the_environment(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    environ = {LISTEN_ENV: f":{exporter.client.port}"}
    done = await asyncio.to_thread(run_script, ["probe"], environ)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["status"] == "ok"


@pytest.mark.parametrize(
    ("flag", "environ", "url"),
    [
        (None, {}, "http://127.0.0.1:9707/smoke-test"),
        (None, {LISTEN_ENV: ""}, "http://127.0.0.1:9707/smoke-test"),
        (None, {LISTEN_ENV: ":9100"}, "http://127.0.0.1:9100/smoke-test"),
        (None, {LISTEN_ENV: "0.0.0.0:9100"}, "http://127.0.0.1:9100/smoke-test"),
        (None, {LISTEN_ENV: "[::]:9100"}, "http://[::1]:9100/smoke-test"),
        (None, {LISTEN_ENV: "[::1]:9100"}, "http://[::1]:9100/smoke-test"),
        (None, {LISTEN_ENV: "exporter.internal:9100"}, "http://exporter.internal:9100/smoke-test"),
        ("10.0.0.7:9200", {LISTEN_ENV: ":9100"}, "http://10.0.0.7:9200/smoke-test"),
    ],
)
def test_a_path_is_asked_on_the_listen_address(
    flag: str | None, environ: dict[str, str], url: str
) -> None:
    assert target_url("/smoke-test", flag, environ) == url


def test_a_url_is_asked_as_it_is_whatever_the_listen_address() -> None:
    url = "https://exporter.internal:9443/-/healthy"
    assert target_url(url, "127.0.0.1:1", {LISTEN_ENV: ":2"}) == url


def test_a_bad_listen_address_in_the_environment_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["probe", "/-/healthy"], {LISTEN_ENV: "[::1]"}) == 2
    assert capsys.readouterr() == (
        "",
        "smoke-test-exporter probe: error: environment variable "
        "SMOKE_TEST_EXPORTER_WEB_LISTEN_ADDRESS: '[::1]' has no port: use host:port, :port or "
        "[v6]:port\n",
    )


def test_local_url_of_every_interface_is_loopback() -> None:
    assert local_url(ListenAddress(None, 9707), "/x") == "http://127.0.0.1:9707/x"
