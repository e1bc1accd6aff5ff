"""The tables, the targets with their spread, and BENCHMARKS.md."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench.bursts import BURST_CONNECTIONS
from bench.curves import SLOW_SECONDS
from bench.footprint import footprint_table
from bench.machine import machine
from bench.plots import shape
from bench.runs import Settings
from bench.status_page import status_section
from bench.stores import CURVE
from bench.suite import Results, Sizes
from bench.targets import MB, TARGETS, Target


def table(results: Results) -> str:
    """The load table, one row a target: its median round, and the spread of its rounds."""
    lines = [
        "| target | req/s | req/s, rounds min to max | p50 | p99 | server CPU s / 1000 req "
        "| RSS after | non-2xx |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results.rows.values():
        rates = [r.result.requests_per_second for r in row.rounds]
        lines.append(
            f"| {row.name} | {row.requests_per_second:,.0f} "
            f"| {min(rates):,.0f} to {max(rates):,.0f} | {row.p50 * 1000:.2f} ms "
            f"| {row.p99 * 1000:.2f} ms | {row.cpu_seconds_per_1000:.3f} "
            f"| {row.rss_after / MB:.1f} MB | {row.errors} |"
        )
    return "\n".join(lines)


def _spread(values: Sequence[float], target: Target) -> str:
    if len(values) == 1:
        return target.show(values[0])
    low, high = target.show(min(values)), target.show(max(values))
    return f"{target.show(statistics.median(values))} ({low} to {high})"


def ratios(results: Results) -> str:
    """Each target with its median (and the min and max of its pairs) and whether it was met."""
    lines = [
        "| target | goal | measured: median (min to max) | met |",
        "| --- | --- | ---: | --- |",
    ]
    for target in TARGETS:
        values = target.values(results)
        median = statistics.median(values)
        met = "n.a." if math.isnan(median) else "yes" if target.met(median) else "**no**"
        lines.append(f"| {target.name} | {target.goal} | {_spread(values, target)} | {met} |")
    return "\n".join(lines)


def memory_table(memory: list[tuple[str, int]], server: str) -> str:
    lines = [f"| {server} | RSS |", "| --- | ---: |"]
    lines += [f"| {label} | {rss / MB:.1f} MB |" for label, rss in memory]
    return "\n".join(lines)


def cadence_table(results: Results) -> str:
    """One line per interleaved round: each server's CPU a scrape beyond idle, and the ratio."""
    ours, peer = results.cadence["ours"], results.cadence["blackbox"]
    lines = [
        "| round | ours: CPU s over the scrapes, idle as long | ms a scrape "
        "| blackbox: CPU s over the scrapes, idle as long | ms a scrape | ours / blackbox |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, (o, p) in enumerate(zip(ours, peer, strict=True), 1):
        share = f"{o.cpu_per_scrape / p.cpu_per_scrape:.2f}" if p.cpu_per_scrape else "n.a."
        cells = [
            f"{c.cpu_seconds:.2f}, {c.idle_cpu_seconds:.2f} | {c.cpu_per_scrape * 1000:.2f}"
            for c in (o, p)
        ]
        lines.append(f"| {n} | {cells[0]} | {cells[1]} | {share} |")
    sizes = (
        f"Answers, gzip'd: ours {ours[0].body_bytes:,} bytes, "
        f"blackbox's {peer[0].body_bytes:,} bytes."
    )
    return "\n".join(lines) + "\n\n" + sizes


def store_table(results: Results) -> str:
    """The store checks' CPU per run, by kind and case."""
    head = " | ".join(f"steady, {n} pending" for n in CURVE)
    lines = [f"| store check | {head} | burst, 100 found |", "| --- |" + " ---: |" * 4]
    for kind in ("loki", "file"):
        cells = [results.store_cpu[f"{kind} steady {n}"] for n in CURVE]
        cells.append(results.store_cpu[f"{kind} burst"])
        lines.append(f"| {kind} | " + " | ".join(f"{c * 1000:.3f} ms" for c in cells) + " |")
    return "\n".join(lines)


def curve_table(results: Results) -> str:
    lines = [
        "| checks | run wall (median) | run CPU | /metrics bytes | lines | series "
        "| scrape CPU (as Prometheus scrapes) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in results.curves.points:
        lines.append(
            f"| {p.checks} | {p.run_wall_seconds * 1000:.2f} ms "
            f"| {p.run_cpu_seconds * 1000:.2f} ms "
            f"| {p.metrics_bytes:,} | {p.metrics_lines:,} | {p.metrics_series:,} "
            f"| {p.scrape_cpu_seconds * 1000:.2f} ms |"
        )
    return "\n".join(lines)


def shapes(results: Results) -> str:
    """Whether each curve is a line, from a least-squares fit."""
    xs = [float(p.checks) for p in results.curves.points]
    lines = []
    for label, ys in (
        ("run wall time (ms)", [p.run_wall_seconds * 1000 for p in results.curves.points]),
        ("run CPU (ms)", [p.run_cpu_seconds * 1000 for p in results.curves.points]),
        ("/metrics series", [float(p.metrics_series) for p in results.curves.points]),
        ("scrape CPU (ms)", [p.scrape_cpu_seconds * 1000 for p in results.curves.points]),
    ):
        lines.append(f"- {label} against checks: {shape(xs, ys)}.")
    pending = [float(n) for n in CURVE]
    for kind in ("loki", "file"):
        ys = [results.store_cpu[f"{kind} steady {n}"] * 1000 for n in CURVE]
        lines.append(f"- {kind} store check CPU (ms) against pending: {shape(pending, ys)}.")
    return "\n".join(lines)


def per_check(results: Results) -> str:
    cells = ", ".join(f"{kind} {n}" for kind, n in results.curves.series_per_check.items())
    return f"Series one more check adds, measured after a run: {cells}."


def document(results: Results, settings: Settings, sizes: Sizes) -> str:
    """BENCHMARKS.md."""
    c = results.curves.concurrency
    return f"""# Benchmarks

Written by `make bench` (`python -m bench`); every number below was measured in one run.
Absolute numbers on a shared machine are noise; the ratios, measured side by side, are the point.

## Machine

{machine()}

## How

Each target is loaded by wrk with one thread and {settings.connections} connections: a
{settings.warmup_seconds:g} s warm-up, then {settings.rounds} rounds of {settings.seconds:g} s.
Servers run pinned to CPU 0, wrk to CPU 1. The floor, blackbox_exporter and ours run at once,
and their rounds are interleaved: floor, ours `/-/healthy`, blackbox `/metrics`, ours `/metrics`,
and so on, round after round, so that a slow moment of the machine falls on both sides of a
ratio. Each ratio below is the median of its {settings.rounds} pairs, with their min and max;
each row shows its median round.
The rows "as Prometheus scrapes" send what Prometheus 2.42 sends: `Accept-Encoding: gzip` and
its `Accept` header, which asks for OpenMetrics first. Both answer it in the text format:
ours at its default (`--web.openmetrics` false), blackbox_exporter as client_golang does without
OpenMetrics turned on.
Ours is started as users start it: the console script, JSON logs to stdout (a pipe a reader
drains, as a container runtime does) and to `--log.file`; for the floods with
`--web.max-requests=0`, so that every request is served. The floor is a
minimal aiohttp app in the same Python answering a 100-byte JSON. The peer is Debian's
`prometheus-blackbox-exporter`; its `/probe` runs the `http_2xx` module against a static page
served from CPU 1. Log delivery is the file sink's time from the canary's emit to its
confirmed read-back, over {sizes.requests} sequential runs (the soak). The pipeline rows push
{sizes.records} JSON records to a file. Server CPU comes from /proc in clock ticks of 10 ms.

## Load

{table(results)}

Log delivery (file): p50 {results.delivery_p50 * 1000:.3f} ms,
p99 {results.delivery_p99 * 1000:.3f} ms.
Log pipeline: {results.queue_records_per_second:,.0f} records/s through our queues, against
{results.file_handler_records_per_second:,.0f} records/s through a synchronous `FileHandler`.
Start-up to the first 200 on `/-/ready`: {results.startup_seconds:.2f} s (median of 3).

## One scrape at a real cadence

In each of {settings.rounds} rounds, ours then blackbox: {sizes.cadence_scrapes} scrapes 50 ms
apart on one kept-alive connection, with Prometheus' headers, then as long idle; a scrape's CPU
is the difference over the scrapes. The target is the median of the rounds' ratios.

{cadence_table(results)}

## Memory after every load

Ours, the one process loaded by every flood above in turn:

{memory_table(results.memory, "ours, the exporter the floods loaded")}

Ours at its defaults, so `--web.max-requests` 40, but min-interval 0, started afresh for the
bursts: {BURST_CONNECTIONS} connections at once for {settings.seconds:g} s, `/metrics` then
`/smoke-test`. Beyond the cap the answer is 503 at once: the bursts' non-2xx above.

{memory_table(results.burst_memory, "ours, the exporter the bursts loaded")}

## Memory by check type

The grpc, dns and websocket checks' libraries are imported only when such a check is built.
Each config is a fresh exporter, started {sizes.footprint_starts} times in turn with the others
(background runs off): its VmRSS once `/-/ready` answers (the start-up run done) and after
{sizes.footprint_runs} runs (`/smoke-test`, min-interval 0), each read once it is quiet; the
median of the starts. Each check calls a server on 127.0.0.1 that passes it: grpcio with
grpcio-health-checking's `HealthServicer`, Debian's dnsmasq, an aiohttp WebSocket echo.

{footprint_table(results.footprints, sizes.footprint_runs)}

## Cost curves

A config file of N checks: the logging check, then http (a local server that answers at
once), tcp (a connect to it) and disk (a temporary directory, its probe file written) in turn;
background runs off; {sizes.curve_runs} sequential runs after 5, and {2 * sizes.curve_runs} scrapes
20 ms apart, each with Prometheus' headers. The four exporters run at once, and their runs and
scrapes are measured in 5 interleaved rounds.

{curve_table(results)}

![run cost against checks](docs/bench-runs.png)
![/metrics against checks](docs/bench-metrics.png)

{per_check(results)}
With 20 http checks against a server that answers after {SLOW_SECONDS * 1000:.0f} ms, a run's
wall time over its slowest check was {statistics.median(c.ratios):.3f} (median of {len(c.ratios)}
runs; {min(c.ratios):.3f} to {max(c.ratios):.3f}); the slowest took
{c.slowest_seconds * 1000:.1f} ms.

Store check CPU per run (this process's CPU, every thread; {sizes.store_runs} runs after 20 of
warm-up; the store on the other CPU). *Steady*: the store is N runs behind, each run asks for
N + 1 and finds one. *Burst*: each run finds 100.

{store_table(results)}

![store check CPU against pending canaries](docs/bench-stores.png)

{shapes(results)}

{status_section(results.status_page, sizes.status_renders)}

## Targets

{ratios(results)}

Where a target is missed, [docs/performance.md](docs/performance.md) says why, from a profile.
"""
