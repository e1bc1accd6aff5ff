"""Reload under load: SIGHUP and POST /-/reload, alternating between two files, while clients
hit /smoke-test and /metrics. No 5xx, no lost access line, /metrics right after each."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Start
from tests.integration.exporter_process import PROBES_LOGGED, lines

ACCESS = "aiohttp.access"
RELOADS = 20
WORKERS = 8
# Checks and sinks of each file. `keep` stays in both, so it must lose no line.
FILES = {
    "a": (
        ["logging"],
        ["stdout", "keep", "only-a"],
        """
sinks:
  - {name: stdout, type: stdout}
  - {name: keep, type: file, path: keep.log}
  - {name: only-a, type: file, path: a.log}
checks:
  - {name: logging, type: logging}
""",
    ),
    "b": (
        ["logging", "logging-again"],
        ["stdout", "keep", "only-b"],
        """
sinks:
  - {name: stdout, type: stdout}
  - {name: keep, type: file, path: keep.log}
  - {name: only-b, type: file, path: b.log}
checks:
  - {name: logging, type: logging}
  - {name: logging-again, type: logging, timeout: 1500ms}
""",
    ),
}


def install(path: Path, text: str) -> None:
    """Replace the config file in one rename, so a reload never reads half of it."""
    part = path.with_suffix(".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of a /metrics page: name, labels, value."""
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def labelled(text: str, name: str, label: str) -> set[str]:
    """The values of ``label`` among ``name``'s samples."""
    return {labels[label] for metric, labels, _ in parse_metrics(text) if metric == name}


async def test_twenty_reloads_under_load_lose_nothing_and_keep_metrics_right(
    start: Start, tmp_path: Path
) -> None:
    config = tmp_path / "smoke-test.yml"
    install(config, FILES["a"][2])
    exporter = start(
        f"--config.file={config}",
        "--smoke-test.interval=0.2",
        # High enough that no access line is dropped: each one is looked for below.
        "--log.access-max-per-second=100000",
        PROBES_LOGGED,  # every /metrics request's line is counted too
    )
    statuses: dict[str, int] = {}
    stop = asyncio.Event()
    async with aiohttp.ClientSession(
        exporter.url, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:

        async def ready() -> None:
            for _ in range(100):
                async with session.get("/-/ready") as response:
                    if response.status == 200:
                        return
                await asyncio.sleep(0.05)
            raise AssertionError("not ready")

        async def load(worker: int) -> None:
            n = 0
            while not stop.is_set():
                path = f"{('/smoke-test', '/metrics')[n % 2]}?w={worker}&n={n}"
                async with session.get(path) as response:
                    await response.read()
                    statuses[path] = response.status
                n += 1

        async def metrics() -> str:
            async with session.get("/metrics") as response:
                assert response.status == 200
                return await response.text()

        await ready()
        workers = [asyncio.create_task(load(w)) for w in range(WORKERS)]
        for n in range(RELOADS):
            name = "ab"[(n + 1) % 2]
            checks, sinks, text = FILES[name]
            install(config, text)
            if n % 2:
                async with session.post("/-/reload") as response:
                    assert response.status == 200
                    assert await response.json() == {
                        "status": "ok",
                        "sinks": sinks,
                        "checks": checks,
                    }
            else:
                exporter.process.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 10
                while labelled(await metrics(), "smoke_test_check_success", "check") != set(checks):
                    assert time.monotonic() < deadline, f"SIGHUP {n}: {name} never applied"
                    await asyncio.sleep(0.02)
            page = await metrics()
            assert labelled(page, "smoke_test_check_success", "check") == set(checks)
            assert labelled(page, "smoke_test_check_status", "check") == set(checks)
            assert labelled(page, "smoke_test_log_sink_errors_total", "sink") == set(sinks)
            assert labelled(page, "smoke_test_log_records_dropped_total", "sink") == set(sinks)
            assert ("smoke_test_exporter_config_last_reload_successful", {}, 1.0) in parse_metrics(
                page
            )
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        final = await metrics()

    assert exporter.stop() == 0
    assert exporter.stderr == ""
    assert len(statuses) > 20 * WORKERS
    assert set(statuses.values()) == {200}, {s for s in statuses.values() if s != 200}
    for sink in ("stdout", "keep"):
        for reason in ("write", "open", "timeout", "verify"):
            assert (
                "smoke_test_log_sink_errors_total",
                {"sink": sink, "reason": reason},
                0.0,
            ) in parse_metrics(final)
    # Every answered request has its access line on stdout and on the sink that stayed.
    for log in (tmp_path / "stdout.log", tmp_path / "keep.log"):
        logged = {str(r["path"]): r["status"] for r in lines(log) if r["logger"] == ACCESS}
        missing = {path for path in statuses if path not in logged}
        assert missing == set(), f"{log.name}: {len(missing)} access lines lost"
        assert {path: logged[path] for path in statuses} == statuses
