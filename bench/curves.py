"""Cost curves: what a run and a scrape cost as the checks grow, and whether checks run at once.

Each point is an exporter with a config file of N checks: the logging check, then http
(against a local server that answers at once), tcp (a connect to that server) and disk (a
temporary directory, probe file written) in turn. The points' exporters run at once, measured
in interleaved rounds. Background runs are off (``--smoke-test.interval=0``), so the CPU
counted is the runs' and the scrapes' only.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import yaml

from bench.cadence import scrape_cost
from bench.procs import cpu_seconds, exporter_command, free_port, server
from bench.runs import PROMETHEUS_HEADERS, WRK_CPU
from bench.stdout import drained_pipe

SLOW_SECONDS = 0.05
# /fast answers at once, /slow after SLOW_SECONDS; the tcp checks connect to the same port.
SERVICE = f"""
import asyncio, sys
from aiohttp import web
async def fast(request):
    return web.Response(text="ok")
async def slow(request):
    await asyncio.sleep({SLOW_SECONDS})
    return web.Response(text="ok")
app = web.Application()
app.add_routes([web.get("/fast", fast), web.get("/slow", slow)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
TYPES = ("http", "tcp", "disk")


@dataclass(frozen=True)
class Point:
    """A run's and a scrape's cost with ``checks`` checks configured."""

    checks: int
    run_wall_seconds: float  # median of the runs' own duration_seconds
    run_cpu_seconds: float  # the server's CPU per run
    metrics_bytes: int  # plain text format
    metrics_lines: int
    metrics_series: int  # the lines that are samples
    scrape_cpu_seconds: float  # per scrape, as Prometheus scrapes, beyond idle


@dataclass(frozen=True)
class Concurrency:
    """Runs of ``checks`` checks of about SLOW_SECONDS each: the run's wall over its slowest."""

    checks: int
    ratios: tuple[float, ...]
    slowest_seconds: float  # median of the runs' slowest check


@dataclass(frozen=True)
class Curves:
    points: tuple[Point, ...]
    series_per_check: dict[str, int]  # by check type: the series one more check adds
    concurrency: Concurrency


def _check(kind: str, n: int, port: int, disk: Path) -> dict[str, Any]:
    name = f"{kind}-{n}"
    if kind == "http":
        return {"name": name, "type": "http", "url": f"http://127.0.0.1:{port}/fast"}
    if kind == "tcp":
        return {"name": name, "type": "tcp", "address": f"127.0.0.1:{port}"}
    return {"name": name, "type": "disk", "path": str(disk), "min_free_ratio": 0.001}


def mixed(count: int, port: int, disk: Path) -> list[dict[str, Any]]:
    """The logging check and ``count - 1`` others, http, tcp and disk in turn."""
    kinds = cycle(TYPES)
    return [{"name": "logging", "type": "logging"}] + [
        _check(next(kinds), n, port, disk) for n in range(1, count)
    ]


@contextmanager
def _exporter(work: Path, checks: Sequence[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    config = work / "checks.yml"
    config.write_text(yaml.safe_dump({"checks": list(checks)}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "curve.log", f"--config.file={config}")
    command += ["--smoke-test.interval=0", "--smoke-test.min-interval=0"]
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as process:
        yield base, process


def _run(base: str) -> dict[str, Any]:
    """One run's answer. A failed run (503) still ran, and its wall time and CPU count: it is
    measured like a passing one, and named on stderr, so a loaded machine's timeouts show."""
    try:
        with urllib.request.urlopen(base + "/smoke-test", timeout=30) as response:
            body: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code != 503:
            raise
        body = json.load(error)
        failed = sorted(name for name, c in body["checks"].items() if c["status"] == "fail")
        print(f"bench: a run of {base} failed: {', '.join(failed)}", file=sys.stderr)
    return body


def _metrics(base: str) -> str:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        return str(response.read().decode())


def _series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


ROUNDS = 5


def _points(
    work: Path, counts: Sequence[int], port: int, runs: int, scrapes: int
) -> tuple[Point, ...]:
    """Every point's exporter started at once; runs and scrapes in interleaved rounds (each
    exporter's share of a round in turn), so a slow moment of the machine falls on all."""
    with contextlib.ExitStack() as stack:
        started = []
        for count in counts:
            home = work / f"checks-{count}"
            home.mkdir()
            started.append(stack.enter_context(_exporter(home, mixed(count, port, home))))
        walls: list[list[float]] = [[] for _ in counts]
        run_cpu = [0.0 for _ in counts]
        scrape_cpu = [0.0 for _ in counts]
        for base, _ in started:
            for _ in range(5):
                _run(base)
        for _ in range(ROUNDS):
            for n, (base, process) in enumerate(started):
                before = cpu_seconds(process.pid)
                walls[n] += [float(_run(base)["duration_seconds"]) for _ in range(runs // ROUNDS)]
                run_cpu[n] += cpu_seconds(process.pid) - before
            for n, (base, process) in enumerate(started):
                cost = scrape_cost(
                    base + "/metrics", process, PROMETHEUS_HEADERS, scrapes // ROUNDS, 0.02
                )
                scrape_cpu[n] += cost.cpu_per_scrape / ROUNDS
        texts = [_metrics(base) for base, _ in started]
    return tuple(
        Point(
            checks=count,
            run_wall_seconds=statistics.median(walls[n]),
            run_cpu_seconds=run_cpu[n] / len(walls[n]),
            metrics_bytes=len(texts[n].encode()),
            metrics_lines=len(texts[n].splitlines()),
            metrics_series=_series(texts[n]),
            scrape_cpu_seconds=scrape_cpu[n],
        )
        for n, count in enumerate(counts)
    )


def _series_per_check(work: Path, port: int) -> dict[str, int]:
    """Series one check of each type adds, on top of the logging check alone (after a run)."""
    counts: dict[str, int] = {}
    for kind in ("logging-only", *TYPES):
        checks = [{"name": "logging", "type": "logging"}]
        if kind != "logging-only":
            checks.append(_check(kind, 1, port, work))
        with _exporter(work, checks) as (base, _):
            _run(base)
            counts[kind] = _series(_metrics(base))
    return {kind: counts[kind] - counts["logging-only"] for kind in TYPES}


def _concurrency(work: Path, port: int, checks: int, runs: int) -> Concurrency:
    slow = [
        {"name": f"slow-{n}", "type": "http", "url": f"http://127.0.0.1:{port}/slow"}
        for n in range(checks)
    ]
    ratios, slowest = [], []
    with _exporter(work, slow) as (base, _):
        _run(base)
        for _ in range(runs):
            body = _run(base)
            worst = max(float(c["duration_seconds"]) for c in body["checks"].values())
            ratios.append(float(body["duration_seconds"]) / worst)
            slowest.append(worst)
    return Concurrency(checks, tuple(ratios), statistics.median(slowest))


def measure_curves(counts: Sequence[int] = (1, 5, 20, 50), runs: int = 100) -> Curves:
    """Every point, the series per check type, and 20 slow checks run at once."""
    port = free_port()
    command = [sys.executable, "-c", SERVICE, str(port)]
    with (
        tempfile.TemporaryDirectory(prefix="curves-") as tmp,
        server(command, f"http://127.0.0.1:{port}/fast", cpu=WRK_CPU),
    ):
        work = Path(tmp)
        points = _points(work, counts, port, runs, 2 * runs)
        per_check = _series_per_check(work, port)
        concurrency = _concurrency(work, port, 20, max(5, runs // 5))
    return Curves(points, per_check, concurrency)
