"""Forged canaries against the real process: a line copied from the exporter's own output, its
signature left out, appended to a file store. It is counted forged on /metrics, and the store
check is not fooled; the real line, appended after, is found."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from exporter.checks.canaries import CanaryLedger
from tests.conftest import CANARY
from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess, finished_lines

KEY = b"a-fleet-wide-canary-key-0f9e8d7c6b5a"
CONFIG = """
sinks: [{name: stdout, type: stdout}]
checks:
  - {name: logging, type: logging}
  - {name: central, type: file, path: central.log, max_delay: 10m, timeout: 10s}
"""
COUNTS = ("written", "found", "missing", "late", "duplicate", "lost", "dropped_pending", "forged")


def forged_total(exporter: ExporterProcess) -> float:
    text = exporter.get("/metrics").body.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "smoke_test_canary_forged_total":
                assert sample.labels == {"store": "central"}
                return sample.value
    raise AssertionError("no smoke_test_canary_forged_total on /metrics")


def canaries(tmp_path: Path) -> list[dict[str, object]]:
    return [line for line in finished_lines(tmp_path / "stdout.log") if line["message"] == CANARY]


def test_a_forged_line_in_the_store_is_counted_and_does_not_pass_the_check(
    start: Start, tmp_path: Path
) -> None:
    key_file = tmp_path / "canary.key"
    key_file.write_bytes(KEY + b"\n")
    config = tmp_path / "smoke-test.yml"
    config.write_text(CONFIG)
    central = tmp_path / "central.log"
    central.write_text("")
    exporter = start(
        f"--config.file={config}",
        "--smoke-test.interval=0",
        "--smoke-test.instance=web-1",
        f"--smoke-test.canary-key-file={key_file}",
    )
    exporter.wait_ready()
    (first,) = canaries(tmp_path)  # the start-up run's
    assert isinstance(first["run_id"], str)
    assert isinstance(first["seq"], int)
    # Another exporter given the same key file would take it for its own.
    assert CanaryLedger("web-1", KEY).genuine(first["run_id"], first["seq"], first["signature"])
    assert forged_total(exporter) == 0
    unsigned = {k: v for k, v in first.items() if k != "signature"}
    with central.open("a") as store:  # run_id is public, in the history; seq counts 1, 2, 3
        store.write(json.dumps(unsigned) + "\n")
        store.write(json.dumps(unsigned | {"signature": "0" * 32}) + "\n")
    response = exporter.get("/smoke-test")
    check = response.json()["checks"]["central"]
    assert (check["status"], check["reason"]) == ("warn", "pending")
    assert check["canaries"] == {
        "pending": 2,
        **dict.fromkeys(COUNTS, 0),
        "written": 2,
        "forged": 1,
    }
    assert forged_total(exporter) == 1
    with central.open("a") as store:  # the shipper, at last
        store.write(json.dumps(first) + "\n")
    response = exporter.get("/smoke-test")
    assert response.status == 200
    check = response.json()["checks"]["central"]
    assert (check["status"], check["newest"]["seq"]) == ("ok", first["seq"])
    counts = {**dict.fromkeys(COUNTS, 0), "written": 3, "found": 1, "forged": 1}
    assert check["canaries"] == {"pending": 2, **counts}
    assert forged_total(exporter) == 1
    assert KEY.decode() not in (tmp_path / "stdout.log").read_text() + exporter.stderr
    assert exporter.stop() == 0
