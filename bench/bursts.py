"""The bursts: 1000 connections at once against ours at its defaults, and the RSS they leave."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.procs import exporter_command, free_port, rss_bytes, server
from bench.runs import PROMETHEUS_HEADERS, Load, Row, Settings, measure
from bench.stdout import drained_pipe

BURST_CONNECTIONS = 1000
# The row, and the RSS, that the target is about: under 45 MB after such a burst.
SMOKE_TEST_BURST = f"ours /smoke-test, {BURST_CONNECTIONS} connections"
BURST_RSS_GOAL_MB = 45
BURSTS = (
    (
        f"ours /metrics, {BURST_CONNECTIONS} connections, as Prometheus scrapes",
        "/metrics",
        PROMETHEUS_HEADERS,
    ),
    (SMOKE_TEST_BURST, "/smoke-test", ()),
)


@dataclass(frozen=True)
class Bursts:
    """Each burst's row, and the exporter's RSS at start and after each burst."""

    rows: dict[str, Row]
    memory: list[tuple[str, int]]


def measure_bursts(settings: Settings, work: Path) -> Bursts:
    """A fresh exporter with the default flags (so --web.max-requests 40) but min-interval 0,
    so that each /smoke-test runs or joins a run: each burst is one round of ``settings``'
    length, without warm-up. Beyond the cap its answers are 503s: the rows' non-2xx."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours-bursts.log", "--smoke-test.min-interval=0")
    burst = replace(settings, rounds=1, warmup_seconds=0)
    rows: dict[str, Row] = {}
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as ours:
        memory = [("at start", rss_bytes(ours.pid))]
        for name, path, headers in BURSTS:
            rows[name] = measure(Load(name, base + path, ours, headers, BURST_CONNECTIONS), burst)
            memory.append((f"after {name.removeprefix('ours ')}", rows[name].rss_after))
    return Bursts(rows, memory)
