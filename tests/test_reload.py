"""Reload: a good file swaps checks and sinks between runs; a bad one changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from exporter.web.keys import LOGS
from tests.conftest import Exporter, StartExporter, json_lines
from tests.support.config_files import HOSTILE_FILES
from tests.support.reload import reload

FIRST = """
sinks:
  - {name: stdout, type: stdout}
  - {name: extra, type: file, path: extra.log}
checks:
  - {name: logging, type: logging}
"""
SECOND = """
sinks:
  - {name: stdout, type: stdout}
  - {name: other, type: file, path: other.log}
checks:
  - {name: logs, type: logging, timeout: 500ms}
  - {name: logging, type: logging}
"""


def series(exporter: Exporter, name: str, label: str) -> set[str]:
    """The values of ``label`` among ``name``'s samples."""
    return {
        sample.labels[label]
        for family in exporter.registry.collect()
        for sample in family.samples
        if sample.name == name
    }


async def test_a_good_file_swaps_checks_and_sinks_and_their_series(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(FIRST)
    exporter = await start_exporter(config_file=path)
    stdout_sink = exporter.app[LOGS].sinks[0]
    before = exporter.sample("smoke_test_exporter_config_last_reload_success_timestamp_seconds")
    path.write_text(
        FIRST.replace("- {name: logging, type: logging}", "- {name: gone, type: logging}")
    )
    assert (await reload(exporter))[0] == 200
    assert series(exporter, "smoke_test_check_failures_total", "check") == {"gone"}
    assert series(exporter, "smoke_test_check_status", "check") == {"gone"}
    path.write_text(SECOND)
    assert await reload(exporter) == (
        200,
        {"status": "ok", "sinks": ["stdout", "other", "file"], "checks": ["logs", "logging"]},
    )
    # The staying stdout sink is the very same object: its queue and thread were kept.
    assert exporter.app[LOGS].sinks[0] is stdout_sink
    assert [s.name for s in exporter.app[LOGS].sinks] == ["stdout", "other", "file"]
    assert series(exporter, "smoke_test_check_success", "check") == {"logs", "logging"}
    assert exporter.sample("smoke_test_check_success", check="logs") == 0  # new, at 0
    assert series(exporter, "smoke_test_check_failures_total", "check") == {"logs", "logging"}
    assert exporter.sample("smoke_test_check_failures_total", check="logs", reason="open") == 0
    assert series(exporter, "smoke_test_log_sink_errors_total", "sink") == {
        "stdout",
        "other",
        "file",
    }
    assert "extra" not in series(exporter, "smoke_test_log_delivery_seconds_count", "sink")
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 1
    after = exporter.sample("smoke_test_exporter_config_last_reload_success_timestamp_seconds")
    assert after >= before
    status, body = await exporter.smoke()
    assert status == 200
    assert list(body["checks"]) == ["logs", "logging"]
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "other": "ok", "file": "ok"}
    assert body["run_id"] in {line.get("run_id") for line in json_lines(tmp_path / "other.log")}
    # The removed sink got the lines queued before the swap and none after.
    assert body["run_id"] not in {line.get("run_id") for line in json_lines(tmp_path / "extra.log")}


async def test_a_bad_file_keeps_the_running_config_and_says_why(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(FIRST)
    exporter = await start_exporter(config_file=path)
    path.write_text("checks: [{name: logging, type: logging, timeout: fast}]\n")
    error = (
        f"--config.file: {path}: checks[0].timeout: 'fast' is not a duration: "
        "write it as 500ms, 2s, 1m or 1h30m"
    )
    assert await reload(exporter) == (
        400,
        {"status": 400, "error": "Bad Request", "message": error},
    )
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 0
    written = await exporter.until_line(
        exporter.stdout_lines, lambda line: line["message"] == error
    )
    warnings = [line for line in written if line["level"] == "WARNING"]
    assert [(w["logger"], w["message"]) for w in warnings] == [("exporter.reload", error)]
    status, body = await exporter.smoke()
    assert status == 200
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "extra": "ok", "file": "ok"}
    path.write_text(FIRST)
    assert (await reload(exporter))[0] == 200
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 1


# Three of the hostile files, refused on reload as at start-up.
HOSTILE = {name: HOSTILE_FILES[name] for name in ("alias bomb", "deep nesting", "NUL in a path")}


@pytest.mark.parametrize("case", HOSTILE, ids=str)
async def test_a_hostile_file_is_a_400_with_one_line_and_serving_goes_on(
    start_exporter: StartExporter, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(FIRST)
    exporter = await start_exporter(config_file=path)
    text, problem = HOSTILE[case]
    path.write_text(text)
    error = f"--config.file: {path}: {problem}"
    assert await reload(exporter) == (
        400,
        {"status": 400, "error": "Bad Request", "message": error},
    )
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 0
    status, _ = await exporter.smoke()
    assert status == 200


async def test_a_fifo_in_the_config_files_place_fails_the_reload_and_never_blocks(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(FIRST)
    exporter = await start_exporter(config_file=path)
    path.unlink()
    os.mkfifo(path)  # nobody writes to it: an open() for reading would wait for ever
    error = f"--config.file: {path}: cannot read it: not a regular file"
    status, body = await asyncio.wait_for(reload(exporter), 10)
    assert (status, body["message"]) == (400, error)
    async with exporter.client.get("/-/healthy") as response:
        assert response.status == 200


async def test_reload_without_a_config_file_is_a_400_and_keeps_the_flags_plan(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    assert await reload(exporter) == (
        400,
        {
            "status": 400,
            "error": "Bad Request",
            "message": "there is no --config.file to reload: the exporter runs the plan of its "
            "flags, which a reload cannot change",
        },
    )
    assert exporter.sample("smoke_test_exporter_config_last_reload_successful") == 1
    status, body = await exporter.smoke()
    assert (status, body["checks"]["logging"]["sinks"]) == (200, {"stdout": "ok", "file": "ok"})


async def test_the_openapi_document_follows_the_reloaded_checks(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(FIRST)
    exporter = await start_exporter(config_file=path)

    async def documented_checks() -> set[str]:
        async with exporter.client.get("/openapi.json") as response:
            document = await response.json()
        return set(
            document["components"]["schemas"]["SmokeTest"]["properties"]["checks"]["properties"]
        )

    assert await documented_checks() == {"logging"}
    path.write_text(SECOND)
    assert (await reload(exporter))[0] == 200
    assert await documented_checks() == {"logs", "logging"}


STORE = """
checks:
  - {name: logging, type: logging}
  - {name: central, type: file, path: central.log, max_delay: 1m}
"""


async def test_a_store_check_keeps_its_pending_canaries_and_position_across_a_reload(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    path = tmp_path / "smoke-test.yml"
    path.write_text(STORE)
    (tmp_path / "central.log").write_text("")
    exporter = await start_exporter(config_file=path)
    status, body = await exporter.smoke()
    assert body["checks"]["central"]["canaries"]["pending"] == 2  # start-up's and this one
    path.write_text(STORE.replace("max_delay: 1m", "max_delay: 2m"))  # the same store
    assert (await reload(exporter))[0] == 200
    lines = [line for line in exporter.stdout_lines() if "seq" in line]
    with (tmp_path / "central.log").open("a") as central:  # the shipper, a little late
        central.writelines(json.dumps(line) + "\n" for line in lines)
    status, body = await exporter.smoke()
    assert status == 200, body
    assert body["checks"]["central"]["canaries"] == {
        "pending": 1,  # this run's own
        "written": 3,
        "found": 2,
        "missing": 0,
        "late": 0,
        "duplicate": 0,
        "lost": 0,
        "dropped_pending": 0,
        "forged": 0,
    }
    assert exporter.sample("smoke_test_canary_found_total", store="central") == 2
    path.write_text(STORE.replace("name: central", "name: other"))
    assert (await reload(exporter))[0] == 200
    assert series(exporter, "smoke_test_canary_found_total", "store") == {"other"}
    assert series(exporter, "smoke_test_canary_pending", "store") == {"other"}
