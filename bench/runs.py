"""Load rounds: the same wrk settings for every target, the median round reported."""

from __future__ import annotations

import statistics
import subprocess
from dataclasses import dataclass

from bench import wrk
from bench.procs import cpu_seconds, rss_bytes

WRK_CPU = 1  # wrk runs here; the servers run on procs.SERVER_CPU
# What Prometheus 2.42 sends with every scrape (scrape/scrape.go's acceptHeader, and gzip).
PROMETHEUS_HEADERS = (
    "Accept-Encoding: gzip",
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
)


@dataclass(frozen=True)
class Settings:
    """How long to load each target."""

    seconds: float = 10.0
    rounds: int = 3
    warmup_seconds: float = 2.0
    connections: int = 50


@dataclass(frozen=True)
class Row:
    """One target's median round."""

    name: str
    requests_per_second: float
    p50: float
    p99: float
    cpu_seconds_per_1000: float
    rss_after: int
    non_2xx: int
    socket_errors: int


def measure(
    name: str,
    url: str,
    process: subprocess.Popen[bytes],
    settings: Settings,
    headers: tuple[str, ...] = (),
) -> Row:
    """Warm up, then ``settings.rounds`` rounds; the round with the median req/s is reported."""
    if settings.warmup_seconds > 0:
        wrk.run(url, settings.warmup_seconds, settings.connections, cpu=WRK_CPU, headers=headers)
    rounds: list[tuple[wrk.WrkResult, float]] = []
    for _ in range(settings.rounds):
        before = cpu_seconds(process.pid)
        result = wrk.run(url, settings.seconds, settings.connections, cpu=WRK_CPU, headers=headers)
        rounds.append((result, cpu_seconds(process.pid) - before))
    rates = [result.requests_per_second for result, _ in rounds]
    median = statistics.median_low(rates)
    result, cpu = rounds[rates.index(median)]
    return Row(
        name=name,
        requests_per_second=result.requests_per_second,
        p50=result.p50,
        p99=result.p99,
        cpu_seconds_per_1000=cpu / max(result.requests, 1) * 1000,
        rss_after=rss_bytes(process.pid),
        non_2xx=sum(r.non_2xx for r, _ in rounds),
        socket_errors=sum(r.socket_errors for r, _ in rounds),
    )
