"""Load rounds: the same wrk settings for every target; pairs run interleaved, round by round."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Sequence
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
class Load:
    """One target: a URL on a started server, the headers sent, the connections kept."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    headers: tuple[str, ...] = ()
    connections: int | None = None  # Settings.connections when None


@dataclass(frozen=True)
class Round:
    """One wrk round and what the server spent on it."""

    result: wrk.WrkResult
    cpu_seconds: float
    rss_after: int

    @property
    def cpu_seconds_per_1000(self) -> float:
        return self.cpu_seconds / max(self.result.requests, 1) * 1000


@dataclass(frozen=True)
class Row:
    """One target's rounds; the figures shown are the round with the median req/s (the lower
    one of an even count), its RSS the most after any round, its errors those of every round."""

    name: str
    rounds: tuple[Round, ...]

    @property
    def median(self) -> Round:
        rates = [r.result.requests_per_second for r in self.rounds]
        return self.rounds[rates.index(statistics.median_low(rates))]

    @property
    def requests_per_second(self) -> float:
        return self.median.result.requests_per_second

    @property
    def p50(self) -> float:
        return self.median.result.p50

    @property
    def p99(self) -> float:
        return self.median.result.p99

    @property
    def cpu_seconds_per_1000(self) -> float:
        return self.median.cpu_seconds_per_1000

    @property
    def rss_after(self) -> int:
        return max(r.rss_after for r in self.rounds)

    @property
    def errors(self) -> int:
        """Non-2xx answers and socket errors, over every round."""
        return sum(r.result.non_2xx + r.result.socket_errors for r in self.rounds)


@dataclass(frozen=True)
class Pair:
    """A peer and ours, measured in alternate rounds."""

    peer: Load
    ours: Load


def settle(pid: int, quiet: float = 0.02, window: float = 0.2, most: float = 10.0) -> None:
    """Wait (at most ``most`` seconds) until the server spends under ``quiet`` CPU seconds in a
    ``window``: what a load left behind (a log queue draining) must not fall on the next round."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < quiet:
            return


def _round(load: Load, settings: Settings) -> Round:
    """One round; its CPU counts what the load left behind too, until the server is quiet."""
    before = cpu_seconds(load.process.pid)
    connections = load.connections or settings.connections
    result = wrk.run(load.url, settings.seconds, connections, cpu=WRK_CPU, headers=load.headers)
    settle(load.process.pid)
    return Round(result, cpu_seconds(load.process.pid) - before, rss_bytes(load.process.pid))


def _warm(load: Load, settings: Settings) -> None:
    if settings.warmup_seconds > 0:
        connections = load.connections or settings.connections
        wrk.run(load.url, settings.warmup_seconds, connections, cpu=WRK_CPU, headers=load.headers)


def measure(load: Load, settings: Settings) -> Row:
    """Warm up, then ``settings.rounds`` rounds of one target."""
    _warm(load, settings)
    return Row(load.name, tuple(_round(load, settings) for _ in range(settings.rounds)))


def interleaved(pairs: Sequence[Pair], settings: Settings) -> dict[str, Row]:
    """Every pair's peer and ours in turn, round after round (peer, ours, next pair's peer,
    ours, ...), so that a slow moment of the machine falls on both sides of a ratio."""
    loads = [load for pair in pairs for load in (pair.peer, pair.ours)]
    for load in loads:
        _warm(load, settings)
    rounds: dict[str, list[Round]] = {load.name: [] for load in loads}
    for _ in range(settings.rounds):
        for load in loads:
            rounds[load.name].append(_round(load, settings))
    return {name: Row(name, tuple(done)) for name, done in rounds.items()}


def pair_ratios(ours: Row, peer: Row, figure: str = "rps") -> list[float]:
    """Round by round, ours over the peer's: req/s ("rps") or CPU per request ("cpu")."""

    def value(r: Round) -> float:
        return r.result.requests_per_second if figure == "rps" else r.cpu_seconds_per_1000

    return [value(o) / max(value(p), 1e-9) for o, p in zip(ours.rounds, peer.rounds, strict=True)]
