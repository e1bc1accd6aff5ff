"""The journal chain, for real: exporter stdout -> (a shipper standing in for journald) ->
systemd-journal-remote -> journal file -> systemd-journal-gatewayd -> the journal store check.

Each fault is one step of the shipper: a canary not shipped is missing, one shipped twice is a
duplicate, one shipped after max_delay is missing and then late, one shipped without its
signature is forged; a gatewayd that is down makes the check unreachable and loses no pending
canary.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.config import LogLevel
from tests.conftest import Exporter, StartExporter
from tests.journal import Journal
from tests.support.store_counts import counts

QUIET = {"log_level": LogLevel.ERROR}  # the canary is the only line stdout gets
MAX_DELAY = 1.0


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    daemons = Journal(tmp_path / "journal")
    daemons.start()
    yield daemons
    daemons.stop()


async def started(
    start_exporter: StartExporter,
    tmp_path: Path,
    journal: Journal,
    extra: str = "",
    max_delay: str = "1s",
) -> Exporter:
    path = tmp_path / "smoke-test.yml"
    path.write_text(
        "sinks: [{name: stdout, type: stdout}]\n"
        "checks:\n  - {name: logging, type: logging}\n"
        f"  - {{name: central, type: journal, url: '{journal.url}', "
        f"max_delay: {max_delay}{extra}}}\n"
    )
    exporter = await start_exporter(config_file=path, instance="web-1", **QUIET)
    assert exporter.stdout_path is not None
    journal.new_lines(exporter.stdout_path)  # the start-up run's canary is never shipped
    return exporter


async def smoke_shipping(
    exporter: Exporter, journal: Journal, *, fields: bool = True
) -> tuple[int, dict[str, Any]]:
    """Ship what stdout has so far, until gatewayd serves it, then run."""
    assert exporter.stdout_path is not None
    await asyncio.to_thread(journal.ship, exporter.stdout_path, fields=fields)
    return await exporter.smoke()


def canary_lines(exporter: Exporter, journal: Journal) -> list[str]:
    assert exporter.stdout_path is not None
    return [line for line in journal.new_lines(exporter.stdout_path) if '"seq"' in line]


async def test_a_shipped_canary_is_found_through_gatewayd(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    await asyncio.sleep(MAX_DELAY)
    status, body = await exporter.smoke()  # the start-up canary was never shipped: missing
    assert body["checks"]["central"]["reason"] == "missing"
    before = counts(exporter)
    status, body = await smoke_shipping(exporter, journal)
    assert status == 200, body
    central = body["checks"]["central"]
    assert central["status"] == "ok"
    after = counts(exporter)
    assert after["found"] - before["found"] == 1
    assert after["written"] - before["written"] == 1
    assert after["missing"] == before["missing"] == 1
    assert after["duplicate"] == after["late"] == after["lost"] == 0


async def test_a_canary_never_shipped_is_missing_and_shipping_again_recovers(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    status, body = await smoke_shipping(exporter, journal)
    assert body["checks"]["central"]["status"] in ("warn", "ok")
    dropped = canary_lines(exporter, journal)  # the shipper loses this run's canary
    assert len(dropped) == 1
    await asyncio.sleep(MAX_DELAY)
    before = counts(exporter)
    status, body = await exporter.smoke()
    assert status == 503
    central = body["checks"]["central"]
    seq = json.loads(dropped[0])["seq"]
    assert central["reason"] == "missing"
    assert central["error"] == (
        f"canary seq {seq} of run {json.loads(dropped[0])['run_id']} not found within max_delay 1s"
    )
    assert counts(exporter)["missing"] - before["missing"] == 2  # start-up's and the dropped one
    status, body = await smoke_shipping(exporter, journal)
    assert status == 200, body
    assert counts(exporter)["late"] == 0


async def test_a_canary_shipped_twice_is_one_found_and_one_duplicate(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    await exporter.smoke()
    lines = canary_lines(exporter, journal)
    await asyncio.to_thread(journal.upload, lines * 2)
    before = counts(exporter)
    status, body = await exporter.smoke()
    assert status == 200, body
    after = counts(exporter)
    assert (after["found"] - before["found"], after["duplicate"] - before["duplicate"]) == (1, 1)
    assert body["checks"]["central"]["canaries"]["duplicate"] == 1


async def test_a_canary_shipped_after_max_delay_is_missing_then_late(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    await exporter.smoke()
    held = canary_lines(exporter, journal)
    await asyncio.sleep(MAX_DELAY)
    await exporter.smoke()  # settles it missing
    before = counts(exporter)
    await asyncio.to_thread(journal.upload, held)
    await exporter.smoke()
    after = counts(exporter)
    assert after["late"] - before["late"] == 1
    assert after["found"] == before["found"]


async def test_lines_of_another_instance_are_ignored(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    await exporter.smoke()
    lines = canary_lines(exporter, journal)
    others = [line.replace('"instance": "web-1"', '"instance": "web-2"') for line in lines]
    await asyncio.to_thread(journal.upload, others)
    await asyncio.sleep(MAX_DELAY)
    before = counts(exporter)
    status, body = await exporter.smoke()
    assert (status, body["checks"]["central"]["reason"]) == (503, "missing")
    after = counts(exporter)
    assert after["found"] == before["found"] == 0
    assert after["missing"] - before["missing"] == 2  # the start-up canary and this one


async def test_forged_copies_of_a_canary_are_counted_once_and_never_found(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal)
    await exporter.smoke()
    (line,) = canary_lines(exporter, journal)
    fields = json.loads(line)
    unsigned = json.dumps({k: v for k, v in fields.items() if k != "signature"})
    made_up = json.dumps(fields | {"signature": "0" * 32})
    await asyncio.to_thread(journal.upload, [unsigned, made_up])
    await asyncio.sleep(MAX_DELAY)
    before = counts(exporter)
    status, body = await exporter.smoke()
    assert (status, body["checks"]["central"]["reason"]) == (503, "missing")
    after = counts(exporter)
    assert (after["found"], after["forged"]) == (0, 1)
    assert after["missing"] - before["missing"] == 2  # the start-up canary and the forged one
    await exporter.smoke()  # the forged entries, read again while it is watched for: once
    assert counts(exporter)["forged"] == 1
    assert body["checks"]["central"]["canaries"]["forged"] == 1


async def test_gatewayd_down_is_unreachable_and_loses_no_pending_canary(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(start_exporter, tmp_path, journal, max_delay="30s")
    journal.stop_gateway()
    status, body = await smoke_shipping(exporter, journal)
    central = body["checks"]["central"]
    assert status == 503
    assert central["reason"] == "unreachable"
    assert central["error"] == f"cannot connect to 127.0.0.1:{journal.port}: Connection refused"
    assert central["component"] == {"kind": "url", "id": f"{journal.url}/entries"}
    assert central["canaries"]["pending"] == 2  # start-up's and this run's
    journal.start_gateway()
    status, body = await smoke_shipping(exporter, journal)
    assert status == 200, body
    # The canary written while it was down is found; the start-up one was never shipped.
    assert counts(exporter)["found"] == 1
    assert body["checks"]["central"]["canaries"]["pending"] == 2


async def test_field_message_searches_the_newest_entries(
    start_exporter: StartExporter, tmp_path: Path, journal: Journal
) -> None:
    exporter = await started(
        start_exporter,
        tmp_path,
        journal,
        ", field: MESSAGE, match: {SYSLOG_IDENTIFIER: smoke-test-exporter}, scan_entries: 50",
    )
    await exporter.smoke()
    status, body = await smoke_shipping(exporter, journal, fields=False)
    assert status == 200, body
    assert counts(exporter)["found"] == 1
    assert counts(exporter)["duplicate"] == 0
    status, body = await smoke_shipping(exporter, journal, fields=False)
    assert counts(exporter)["found"] == 2
    assert counts(exporter)["duplicate"] == 0  # entries read again are no new copies
