"""Idle RSS by check type: the exporter started afresh with the default config, and with one
grpc, dns or websocket check, whose libraries are imported only when such a check is built."""

from __future__ import annotations

import statistics
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.procs import exporter_command, free_port, rss_bytes, server
from bench.protocols import Peers, check, peers
from bench.runs import settle
from bench.stdout import drained_pipe

# bench.targets.MB, which this module cannot import: bench.targets imports the suite, and the
# suite this module.
MB = 1024 * 1024

# Each row: its name, and the check types beside the logging check. The first has no
# --config.file at all: the defaults, the row the others are compared with.
CONFIGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("default (the logging check)", ()),
    ("+ one grpc check", ("grpc",)),
    ("+ one dns check", ("dns",)),
    ("+ one websocket check", ("websocket",)),
    ("+ one check of each", ("grpc", "dns", "websocket")),
)
# Background runs off, so that every start makes exactly its start-up run and the bench's.
FLAGS = ("--smoke-test.interval=0", "--smoke-test.min-interval=0")


@dataclass(frozen=True)
class Sample:
    """One start's VmRSS, in bytes."""

    ready: int  # once /-/ready answers 200: the start-up run has finished
    after: int  # after the runs too
    failed: int  # runs answered 503


@dataclass(frozen=True)
class Footprint:
    """One config's row: the median (the lower of an even count) of its starts."""

    name: str
    ready: int
    after: int
    failed: int  # over every start


def summarise(name: str, samples: Sequence[Sample]) -> Footprint:
    return Footprint(
        name,
        ready=statistics.median_low(s.ready for s in samples),
        after=statistics.median_low(s.after for s in samples),
        failed=sum(s.failed for s in samples),
    )


def write_config(path: Path, kinds: Sequence[str], around: Peers) -> None:
    """A config file of the logging check and one check of each of ``kinds``."""
    checks = [{"name": "logging", "type": "logging"}] + [check(k, around) for k in kinds]
    path.write_text(yaml.safe_dump({"checks": checks}))


def _passes(base: str) -> bool:
    """One run; False if it answered 503 (a check failed)."""
    try:
        with urllib.request.urlopen(base + "/smoke-test", timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if error.code != 503:
            raise
        error.read()
        return False
    return True


def _start(work: Path, kinds: tuple[str, ...], around: Peers, runs: int) -> Sample:
    """One exporter, started afresh: its RSS once ready, and after ``runs`` runs, each read
    once the process is quiet (its log queues drained)."""
    work.mkdir()
    flags = list(FLAGS)
    if kinds:
        config = work / "checks.yml"
        write_config(config, kinds, around)
        flags.append(f"--config.file={config}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "exporter.log", *flags)
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as process:
        settle(process.pid)
        ready = rss_bytes(process.pid)
        failed = sum(not _passes(base) for _ in range(runs))
        settle(process.pid)
        return Sample(ready, rss_bytes(process.pid), failed)


def measure_footprints(work: Path, starts: int, runs: int) -> tuple[Footprint, ...]:
    """Every config, ``starts`` times, in turn: start after start, so that a slow moment of the
    machine falls on every config."""
    samples: dict[str, list[Sample]] = {name: [] for name, _ in CONFIGS}
    with peers(work) as around:
        for n in range(starts):
            for i, (name, kinds) in enumerate(CONFIGS):
                samples[name].append(_start(work / f"footprint-{n}-{i}", kinds, around, runs))
    return tuple(summarise(name, samples[name]) for name, _ in CONFIGS)


def footprint_table(footprints: Sequence[Footprint], runs: int) -> str:
    """One row a config, and how much more than the first (the default) it takes."""
    default = footprints[0]
    lines = [
        f"| config | RSS once ready | RSS after {runs} runs "
        "| more than the default: once ready | after the runs | failed runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in footprints:
        more = f.ready - default.ready, f.after - default.after
        lines.append(
            f"| {f.name} | {f.ready / MB:.1f} MB | {f.after / MB:.1f} MB "
            f"| {more[0] / MB:+.1f} MB | {more[1] / MB:+.1f} MB | {f.failed} |"
        )
    return "\n".join(lines)
