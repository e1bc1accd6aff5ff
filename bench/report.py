"""The table, the ratios against their targets, and BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

from bench.runs import Settings
from bench.suite import Results

MB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    """One goal from the performance issue, as a ratio or bound read off the results."""

    name: str
    goal: str
    value: Callable[[Results], float]
    met: Callable[[float], bool]
    shown: str  # format of the value


def _rps(results: Results, name: str) -> float:
    return results.rows[name].requests_per_second


TARGETS = [
    Target(
        "/smoke-test (min-interval 0) / blackbox /probe, req/s",
        ">= 1.5",
        lambda r: _rps(r, "ours /smoke-test, min-interval 0") / _rps(r, "blackbox /probe"),
        lambda v: v >= 1.5,
        "{:.2f}",
    ),
    Target(
        "/metrics / blackbox /metrics, req/s",
        ">= 1.0",
        lambda r: _rps(r, "ours /metrics") / _rps(r, "blackbox /metrics"),
        lambda v: v >= 1.0,
        "{:.2f}",
    ),
    Target(
        "/metrics as Prometheus scrapes (gzip) / blackbox's, req/s",
        ">= 1.5",
        lambda r: (
            _rps(r, "ours /metrics, as Prometheus scrapes")
            / _rps(r, "blackbox /metrics, as Prometheus scrapes")
        ),
        lambda v: v >= 1.5,
        "{:.2f}",
    ),
    Target(
        "CPU per scrape as Prometheus scrapes / blackbox's",
        "<= 1.0",
        lambda r: (
            r.rows["ours /metrics, as Prometheus scrapes"].cpu_seconds_per_1000
            / r.rows["blackbox /metrics, as Prometheus scrapes"].cpu_seconds_per_1000
        ),
        lambda v: v <= 1.0,
        "{:.2f}",
    ),
    Target(
        "/-/healthy / floor, req/s",
        ">= 0.6",
        lambda r: _rps(r, "ours /-/healthy") / _rps(r, "floor"),
        lambda v: v >= 0.6,
        "{:.2f}",
    ),
    Target(
        "/smoke-test (min-interval 0) p99 at 50 connections",
        "< 10 ms",
        lambda r: r.rows["ours /smoke-test, min-interval 0"].p99 * 1000,
        lambda v: v < 10,
        "{:.2f} ms",
    ),
    Target(
        "log delivery p99 (emit to read-back, file)",
        "< 2 ms",
        lambda r: r.delivery_p99 * 1000,
        lambda v: v < 2,
        "{:.3f} ms",
    ),
    Target(
        "queue pipeline / FileHandler, records/s",
        ">= 0.8",
        lambda r: r.queue_records_per_second / r.file_handler_records_per_second,
        lambda v: v >= 0.8,
        "{:.2f}",
    ),
    Target(
        "/metrics p99 with stdout stuck / drained",
        "<= 2",
        lambda r: r.rows["ours /metrics, stdout stuck"].p99 / r.rows["ours /metrics"].p99,
        lambda v: v <= 2,
        "{:.2f}",
    ),
    Target(
        "RSS after the benchmark",
        "< 45 MB",
        lambda r: r.rss_after / MB,
        lambda v: v < 45,
        "{:.1f} MB",
    ),
    Target(
        "start-up to /-/ready", "< 1 s", lambda r: r.startup_seconds, lambda v: v < 1, "{:.2f} s"
    ),
    Target(
        "store check CPU per run, 100 pending (loki, steady)",
        "<= 1 ms",
        lambda r: r.store_cpu["loki steady"] * 1000,
        lambda v: v <= 1,
        "{:.3f} ms",
    ),
    Target(
        "store check CPU per run, 100 pending (file, steady)",
        "<= 1 ms",
        lambda r: r.store_cpu["file steady"] * 1000,
        lambda v: v <= 1,
        "{:.3f} ms",
    ),
]


def machine() -> str:
    """What the numbers were measured on."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) // 1024 // 1024
    blackbox = subprocess.run(
        ["prometheus-blackbox-exporter", "--version"], capture_output=True, text=True, check=False
    )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return "\n".join(
        [
            f"- {os.cpu_count()} CPUs ({model}), {memory} GiB; {platform.platform()}",
            f"- Python {platform.python_version()}, aiohttp {version('aiohttp')}, "
            f"prometheus-client {version('prometheus-client')}",
            f"- {(blackbox.stdout or blackbox.stderr).splitlines()[0]}",
            f"- {wrk.stdout.splitlines()[0] if wrk.stdout else 'wrk'}",
        ]
    )


def table(results: Results) -> str:
    """The load table, one row a target."""
    lines = [
        "| target | req/s | p50 | p99 | server CPU s / 1000 req | RSS after | non-2xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results.rows.values():
        lines.append(
            f"| {row.name} | {row.requests_per_second:,.0f} | {row.p50 * 1000:.2f} ms "
            f"| {row.p99 * 1000:.2f} ms | {row.cpu_seconds_per_1000:.3f} "
            f"| {row.rss_after / MB:.1f} MB | {row.non_2xx + row.socket_errors} |"
        )
    return "\n".join(lines)


def ratios(results: Results) -> str:
    """Each target with the value measured and whether it was met."""
    lines = ["| target | goal | measured | met |", "| --- | --- | ---: | --- |"]
    for target in TARGETS:
        value = target.value(results)
        met = "yes" if target.met(value) else "**no**"
        lines.append(f"| {target.name} | {target.goal} | {target.shown.format(value)} | {met} |")
    return "\n".join(lines)


def store_table(results: Results) -> str:
    """The store checks' CPU per run, by kind and case."""
    lines = ["| store check | steady | burst |", "| --- | ---: | ---: |"]
    for kind in ("loki", "file"):
        steady, burst = (results.store_cpu[f"{kind} {case}"] for case in ("steady", "burst"))
        lines.append(f"| {kind} | {steady * 1000:.3f} ms | {burst * 1000:.3f} ms |")
    return "\n".join(lines)


def document(
    results: Results, settings: Settings, records: int, requests: int, store_runs: int
) -> str:
    """BENCHMARKS.md."""
    return f"""# Benchmarks

Written by `make bench` (`python -m bench`); every number below was measured in one run.
Absolute numbers on a shared machine are noise; the ratios, measured side by side, are the point.

## Machine

{machine()}

## How

Each target is loaded by wrk with one thread and {settings.connections} connections: a
{settings.warmup_seconds:g} s warm-up, then {settings.rounds} rounds of {settings.seconds:g} s;
the round with the median req/s is reported. Servers run pinned to CPU 0, wrk to CPU 1.
The rows "as Prometheus scrapes" send what Prometheus 2.42 sends: `Accept-Encoding: gzip` and
its `Accept` header, which asks for OpenMetrics first.
Ours is started as users start it: the console script, JSON logs to stdout (a pipe a reader
drains, as a container runtime does) and to `--log.file`. The floor is a minimal aiohttp app in
the same Python answering a 100-byte JSON. The peer is Debian's `prometheus-blackbox-exporter`;
its `/probe` runs the `http_2xx` module against a static page served from CPU 1. Log delivery
is the file sink's time from the canary's emit to its confirmed read-back, over {requests}
sequential runs. The pipeline rows push {records} JSON records to a file.

## Load

{table(results)}

Log delivery (file): p50 {results.delivery_p50 * 1000:.3f} ms,
p99 {results.delivery_p99 * 1000:.3f} ms.
Log pipeline: {results.queue_records_per_second:,.0f} records/s through our queues, against
{results.file_handler_records_per_second:,.0f} records/s through a synchronous `FileHandler`.
Start-up to the first 200 on `/-/ready`: {results.startup_seconds:.2f} s (median of 3).

Store check CPU per run with 100 canaries pending (this process's CPU, every thread; {store_runs}
runs after 20 of warm-up; the store on the other CPU). *Steady*: the store is 100 runs behind, each
run asks for 101 and finds one. *Burst*: each run finds 100.

{store_table(results)}

## Targets

{ratios(results)}
"""
