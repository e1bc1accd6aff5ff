"""The whole chain, for real: exporter -> syslog sink -> rsyslogd -> file -> the file store check.

rsyslogd is Debian's (`make test` installs it), and both ends run the worked example in
examples/rsyslog/: its rsyslog.conf and its smoke-test.yml, with the ports and the file's path
of this machine (tests/rsyslog.py), and the sink and store options a test varies on top.
Killing rsyslogd loses canaries: the store check says missing, and recovers when it is back.
The logging check says so at once: every run fails while it is down, over TCP and over UDP.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import LogLevel
from exporter.sinks.syslog_socket import REFUSAL_WAIT
from tests.conftest import CANARY, Exporter, StartExporter
from tests.rsyslog import Rsyslog
from tests.support.store_counts import counts

QUIET = {"log_level": LogLevel.ERROR}  # the canary is the only line: counts are exact
# For tests that need every run to finish: under CPU contention a run can take over a second,
# and these count outcomes, not speed.
PATIENT = {**QUIET, "timeout_seconds": 10.0}
# Runs further apart than a UDP refusal may take: only a refusal keeps the sink failing.
PACE = REFUSAL_WAIT + 0.1
UDP = {"protocol": "udp"}  # on the example's sink, which is TCP


async def until(
    exporter: Exporter, wanted: Any, within: float = 10.0
) -> tuple[int, dict[str, Any]]:
    """Run the smoke test until ``wanted(status, body)``, for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        status, body = await exporter.smoke()
        if wanted(status, body):
            return status, body
        if time.monotonic() > deadline:
            raise AssertionError(f"never got there; last answer {status} {body}")
        await asyncio.sleep(0.1)


def logging_check(answer: tuple[int, dict[str, Any]]) -> tuple[str, str | None, str | None]:
    """A run's logging check: status, reason and error."""
    check = answer[1]["checks"]["logging"]
    return check["status"], check.get("reason"), check.get("error")


async def written(rsyslog: Rsyslog, run_id: str) -> str:
    """The line rsyslogd wrote for ``run_id``'s canary, once it is there."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in rsyslog.out.read_text().splitlines():
            if run_id in line:
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no canary of run {run_id} in {rsyslog.out}")


@pytest.fixture
def rsyslog(tmp_path: Path) -> Any:
    server = Rsyslog(tmp_path / "rsyslog")
    server.start()
    yield server
    server.kill()


@pytest.mark.parametrize(
    ("sink", "prefix"),
    [
        pytest.param({"protocol": "udp"}, "smoke-test-exporter[", id="udp-rfc5424"),
        # The example as it is.
        pytest.param({}, "smoke-test-exporter[", id="tcp-octet-counting"),
        pytest.param({"framing": "lf"}, "smoke-test-exporter[", id="tcp-lf"),
        pytest.param(
            {"protocol": "udp", "format": "rfc3164", "app_name": "web"}, "web[", id="udp-rfc3164"
        ),
    ],
)
async def test_the_canary_is_found_in_the_file_rsyslog_writes(
    start_exporter: StartExporter,
    tmp_path: Path,
    rsyslog: Rsyslog,
    sink: dict[str, str],
    prefix: str,
) -> None:
    cfg = rsyslog.exporter_config(tmp_path / "smoke-test.yml", sink)
    exporter = await start_exporter(config_file=cfg, instance="web-1", **QUIET)
    status, body = await until(exporter, lambda s, b: b["checks"]["central"]["status"] == "ok")
    assert status == 200
    central = body["checks"]["central"]
    assert central["newest"]["state"] == "found"
    assert central["observed_unit"] == "s"
    line = next(
        line for line in rsyslog.out.read_text().splitlines() if central["newest"]["run_id"] in line
    )
    assert prefix in line
    assert f'"message": "{CANARY}"' in line
    assert f'"seq": {central["newest"]["seq"]}, "instance": "web-1"' in line
    c = counts(exporter)
    assert c["found"] >= 1
    assert c["written"] == c["found"] + exporter.sample(
        "smoke_test_canary_pending", store="central"
    )
    assert c["missing"] == c["duplicate"] == c["lost"] == c["late"] == 0


async def test_a_killed_rsyslogd_makes_canaries_missing_and_its_return_recovers(
    start_exporter: StartExporter, tmp_path: Path, rsyslog: Rsyslog
) -> None:
    cfg = rsyslog.exporter_config(tmp_path / "smoke-test.yml", UDP, {"max_delay": "1s"})
    exporter = await start_exporter(config_file=cfg, instance="web-1", **QUIET)
    # Until the run's own canary is found in that run: nothing is on its way when it dies.
    await until(exporter, lambda s, b: b["checks"]["central"]["canaries"]["pending"] == 0)
    before = counts(exporter)
    assert before["written"] == before["found"]
    rsyslog.kill()
    # The logging check fails from the first run after the kill; the store says missing once
    # a canary's max_delay is over.
    status, body = await until(
        exporter, lambda s, b: b["checks"]["central"].get("reason") == "missing"
    )
    assert status == 503
    central = body["checks"]["central"]
    assert central["status"] == "fail"
    assert central["error"] == (
        f"canary seq {central['newest']['seq']} of run {central['newest']['run_id']} "
        "not found within max_delay 1s"
    )
    assert central["component"] == {"kind": "path", "id": str(rsyslog.out)}
    assert logging_check((status, body)) == ("fail", "write", "Connection refused")
    assert f"check central failed on path {rsyslog.out}: {central['error']}" in body["message"]
    during = counts(exporter)
    pending = exporter.sample("smoke_test_canary_pending", store="central")
    assert during["found"] == before["found"]
    assert during["missing"] >= 1
    assert during["written"] == during["found"] + during["missing"] + pending
    rsyslog.start()
    status, body = await until(exporter, lambda s, b: s == 200, within=15)
    assert body["checks"]["central"]["status"] == "ok"
    after = counts(exporter)
    pending = exporter.sample("smoke_test_canary_pending", store="central")
    assert after["found"] > during["found"]
    assert after["written"] == after["found"] + after["missing"] + pending
    assert after["duplicate"] == after["lost"] == 0
    # Canaries lost while it was down stay missing: none of them turns up late.
    assert after["late"] == 0


async def test_a_soak_of_2000_runs_counts_every_canary_exactly(
    start_exporter: StartExporter, tmp_path: Path, rsyslog: Rsyslog
) -> None:
    cfg = rsyslog.exporter_config(tmp_path / "smoke-test.yml", store={"max_delay": "30s"})
    exporter = await start_exporter(config_file=cfg, instance="web-1", **PATIENT)
    for _ in range(2000):
        status, body = await exporter.smoke()
        assert status == 200, body  # a pending canary is a warning, and passes
    await asyncio.sleep(0.5)
    _, body = await exporter.smoke()  # the 2001st run settles what rsyslogd has written
    c = counts(exporter)
    pending = exporter.sample("smoke_test_canary_pending", store="central")
    assert c["written"] == 2002  # and the start-up run's
    assert c["found"] == c["written"] - pending
    assert pending <= 1  # at most the canary of the last run is still on its way
    assert c["missing"] == c["duplicate"] == c["lost"] == c["late"] == c["dropped_pending"] == 0
    assert body["checks"]["central"]["canaries"]["found"] == c["found"]


async def test_a_tcp_sink_fails_open_while_rsyslogd_is_down_and_passes_on_the_first_run_back(
    start_exporter: StartExporter, tmp_path: Path, rsyslog: Rsyslog
) -> None:
    cfg = rsyslog.exporter_config(tmp_path / "smoke-test.yml")
    exporter = await start_exporter(config_file=cfg, instance="web-1", **PATIENT)
    assert logging_check(await exporter.smoke()) == ("ok", None, None)
    rsyslog.kill()
    # Each run's canary tries to connect: the cause of now, never "next connect in".
    cause = f"cannot connect to 127.0.0.1:{rsyslog.tcp}: Connection refused"
    down = [logging_check(await exporter.smoke()) for _ in range(5)]
    assert down == [("fail", "open", cause)] * 5
    rsyslog.start()
    status, body = await exporter.smoke()
    assert logging_check((status, body)) == ("ok", None, None)
    assert body["checks"]["logging"]["sinks"] == {"syslog": "ok", "file": "ok"}
    assert f'"message": "{CANARY}"' in await written(rsyslog, body["run_id"])


async def test_a_udp_sink_fails_every_run_while_rsyslogd_is_down_until_a_send_is_confirmed(
    start_exporter: StartExporter, tmp_path: Path, rsyslog: Rsyslog
) -> None:
    cfg = rsyslog.exporter_config(tmp_path / "smoke-test.yml", UDP)
    exporter = await start_exporter(config_file=cfg, instance="web-1", **PATIENT)
    assert logging_check(await exporter.smoke()) == ("ok", None, None)
    rsyslog.kill()
    down = []
    for _ in range(10):
        await asyncio.sleep(PACE)
        down.append(logging_check(await exporter.smoke()))
    # Not one run passes: the first hears its own datagram refused, each later one the last.
    assert down == [("fail", "write", "Connection refused")] * 10
    rsyslog.start()
    await asyncio.sleep(PACE)
    # rsyslogd takes this run's canary, yet the run fails with the last error: UDP tells no
    # delivery, and a failed sink needs a datagram with no refusal by a later send.
    status, body = await exporter.smoke()
    assert logging_check((status, body)) == ("fail", "write", "Connection refused")
    assert f'"message": "{CANARY}"' in await written(rsyslog, body["run_id"])
    await asyncio.sleep(PACE)
    status, body = await exporter.smoke()
    assert logging_check((status, body)) == ("ok", None, None)
    assert f'"message": "{CANARY}"' in await written(rsyslog, body["run_id"])
