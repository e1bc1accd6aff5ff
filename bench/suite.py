"""The whole comparison in one run: the floor, blackbox_exporter, and ours, side by side."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import inprocess, stores
from bench.bursts import measure_bursts
from bench.cadence import Cadence, scrape_cost
from bench.curves import Curves, measure_curves
from bench.footprint import Footprint, measure_footprints
from bench.procs import exporter_command, free_port, rss_bytes, server, wait_for
from bench.runs import (
    PROMETHEUS_HEADERS,
    WRK_CPU,
    Load,
    Pair,
    Row,
    Settings,
    interleaved,
    measure,
    pair_ratios,
)
from bench.status_page import RENDERS, StatusPoint, measure_status_page
from bench.stdout import drained_pipe, stuck_pipe

# Ours in the floods: none of their requests may be refused, whatever a run's length.
NO_CAP = "--web.max-requests=0"
BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 5s
"""


@dataclass(frozen=True)
class Sizes:
    """How much of each measurement one run makes."""

    records: int = 100_000  # the pipeline rows
    requests: int = 2000  # sequential runs: log delivery latency, and the soak
    store_runs: int = 500
    cadence_scrapes: int = 150  # 50 ms apart, in each round
    curve_runs: int = 100  # per point of the cost curves
    footprint_starts: int = 3  # fresh exporters per config, for the RSS by check type
    footprint_runs: int = 100  # runs each, after its start-up run
    status_renders: int = RENDERS  # a round of the status page's renders, at each count of checks


@dataclass(frozen=True)
class Results:
    """Everything one run measured."""

    rows: dict[str, Row]
    ratios: dict[str, list[float]]  # per pair of interleaved rounds
    cadence: dict[str, list[Cadence]]  # "ours", "blackbox": one per interleaved round
    memory: list[tuple[str, int]]  # ours' RSS after each flood, in the order they ran
    burst_memory: list[tuple[str, int]]  # the bursts' exporter's RSS, at start and after each
    delivery_p50: float
    delivery_p99: float
    startup_seconds: float
    queue_records_per_second: float
    file_handler_records_per_second: float
    store_cpu: dict[str, float]  # seconds a store-check run, by kind and case
    curves: Curves
    footprints: tuple[Footprint, ...]  # idle RSS by check type: the default config first
    status_page: tuple[StatusPoint, ...]  # the page's size and render CPU at 1, 20, 50 checks


def _delivery_latency(base: str, requests: int) -> tuple[float, float]:
    """p50 and p99 of the file sink's delivery time, from the canary's emit to its read-back."""
    seconds = []
    for _ in range(requests):
        request = urllib.request.Request(
            base + "/smoke-test", headers={"Accept": "application/health+json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        [file] = [c for c in body["checks"]["logging:delivery"] if c["componentId"] == "file"]
        seconds.append(float(file["observedValue"]))
    cuts = statistics.quantiles(seconds, n=100)
    return cuts[49], cuts[98]


def _startup(work: Path, times: int) -> float:
    """Median seconds from exec to the first 200 on /-/ready."""
    seconds = []
    for n in range(times):
        port = free_port()
        command = exporter_command(port, work / f"startup-{n}.log")
        start = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(f"http://127.0.0.1:{port}/-/ready")
            seconds.append(time.monotonic() - start)
        finally:
            process.terminate()
            process.wait(10)
    return statistics.median(seconds)


# The pairs, each (ratio's name, peer row, ours row); the ratio is ours over the peer's.
PAIRS = (
    ("/-/healthy / floor", "floor", "ours /-/healthy"),
    ("/metrics / blackbox", "blackbox /metrics", "ours /metrics"),
    (
        "/metrics as Prometheus scrapes / blackbox",
        "blackbox /metrics, as Prometheus scrapes",
        "ours /metrics, as Prometheus scrapes",
    ),
    ("/smoke-test / blackbox /probe", "blackbox /probe", "ours /smoke-test, min-interval 0"),
)


@dataclass(frozen=True)
class _Together:
    rows: dict[str, Row]
    ratios: dict[str, list[float]]
    cadence: dict[str, list[Cadence]]
    memory: list[tuple[str, int]]
    delivery: tuple[float, float]


def _side_by_side(settings: Settings, work: Path, sizes: Sizes) -> _Together:
    """The floor, blackbox and ours, all started at once and loaded in interleaved rounds;
    then ours alone: bursts of connections, a scrape cadence, and the soak."""
    static = work / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>a static page for blackbox_exporter to probe</p>\n")
    config = work / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    floor_port, static_port, bb_port, our_port = (free_port() for _ in range(4))
    static_url = f"http://127.0.0.1:{static_port}/"
    serve_static = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
    serve_static += ["--directory", str(static), str(static_port)]
    blackbox = ["prometheus-blackbox-exporter", f"--config.file={config}"]
    blackbox += [f"--web.listen-address=127.0.0.1:{bb_port}"]
    bb_base, our_base = f"http://127.0.0.1:{bb_port}", f"http://127.0.0.1:{our_port}"
    floor_url = f"http://127.0.0.1:{floor_port}/"
    # The floods measure serving, so none may be refused: no cap. (The bursts, measure_bursts,
    # run against the default cap.)
    ours_command = exporter_command(
        our_port, work / "ours.log", "--smoke-test.min-interval=0", NO_CAP
    )
    with contextlib.ExitStack() as stack:
        floor = stack.enter_context(
            server([sys.executable, "-m", "bench.floor", str(floor_port)], floor_url)
        )
        # The probed page is served from wrk's core, so it does not take the peer's core.
        stack.enter_context(server(serve_static, static_url, cpu=WRK_CPU))
        bb = stack.enter_context(server(blackbox, bb_base + "/-/healthy"))
        stdout = stack.enter_context(drained_pipe())
        ours = stack.enter_context(server(ours_command, our_base + "/-/ready", stdout=stdout))
        memory = [("at start", rss_bytes(ours.pid))]
        prometheus = PROMETHEUS_HEADERS
        loads = {
            load.name: load
            for load in (
                Load("floor", floor_url, floor),
                Load("blackbox /metrics", bb_base + "/metrics", bb),
                Load(
                    "blackbox /metrics, as Prometheus scrapes", bb_base + "/metrics", bb, prometheus
                ),
                Load("blackbox /probe", f"{bb_base}/probe?module=http_2xx&target={static_url}", bb),
                Load("ours /-/healthy", our_base + "/-/healthy", ours),
                Load("ours /metrics", our_base + "/metrics", ours),
                Load(
                    "ours /metrics, as Prometheus scrapes", our_base + "/metrics", ours, prometheus
                ),
                Load("ours /smoke-test, min-interval 0", our_base + "/smoke-test", ours),
            )
        }
        pairs = [Pair(loads[peer], loads[mine]) for _, peer, mine in PAIRS]
        rows = interleaved(pairs, settings)
        ratios = {name: pair_ratios(rows[mine], rows[peer]) for name, peer, mine in PAIRS}
        ratios["CPU per scrape as Prometheus scrapes / blackbox"] = pair_ratios(
            rows["ours /metrics, as Prometheus scrapes"],
            rows["blackbox /metrics, as Prometheus scrapes"],
            "cpu",
        )
        for name, label in (
            ("ours /-/healthy", "/-/healthy flood"),
            ("ours /metrics", "plain /metrics flood"),
            ("ours /metrics, as Prometheus scrapes", "gzip /metrics flood (Prometheus' headers)"),
            ("ours /smoke-test, min-interval 0", "/smoke-test flood"),
        ):
            memory.append((f"after the {label}, the most of its rounds", rows[name].rss_after))
        # Interleaved rounds, as the floods: a machine's slow minute lands on both servers.
        cadence: dict[str, list[Cadence]] = {"ours": [], "blackbox": []}
        for _ in range(settings.rounds):
            for name, base, process in (("ours", our_base, ours), ("blackbox", bb_base, bb)):
                cost = scrape_cost(base + "/metrics", process, prometheus, sizes.cadence_scrapes)
                cadence[name].append(cost)
        scraped = settings.rounds * sizes.cadence_scrapes
        memory.append((f"after {scraped} scrapes 50 ms apart", rss_bytes(ours.pid)))
        p50, p99 = _delivery_latency(our_base, sizes.requests)
        memory.append(
            (f"after the soak: {sizes.requests} sequential smoke tests", rss_bytes(ours.pid))
        )
    return _Together(rows, ratios, cadence, memory, (p50, p99))


def _apart(settings: Settings, work: Path) -> dict[str, Row]:
    """Ours with the default min-interval, and ours with its stdout stuck."""
    rows: dict[str, Row] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours-default.log", NO_CAP)
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as ours:
        name = "ours /smoke-test, default min-interval"
        rows[name] = measure(Load(name, base + "/smoke-test", ours), settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours-stuck.log", "--smoke-test.timeout=0.5", NO_CAP)
    with stuck_pipe() as stdout, server(command, base + "/-/healthy", stdout=stdout) as ours:
        name = "ours /metrics, stdout stuck"
        rows[name] = measure(Load(name, base + "/metrics", ours), settings)
    return rows


def run_suite(settings: Settings, work: Path, sizes: Sizes) -> Results:
    """Every measurement, in one run, with the same load settings for every target."""
    together = _side_by_side(settings, work, sizes)
    bursts = measure_bursts(settings, work)
    rows = {**together.rows, **bursts.rows, **_apart(settings, work)}
    return Results(
        rows=rows,
        ratios=together.ratios,
        cadence=together.cadence,
        memory=together.memory,
        burst_memory=bursts.memory,
        delivery_p50=together.delivery[0],
        delivery_p99=together.delivery[1],
        startup_seconds=_startup(work, 3),
        queue_records_per_second=inprocess.pipeline_records_per_second(sizes.records),
        file_handler_records_per_second=inprocess.file_handler_records_per_second(sizes.records),
        store_cpu=stores.store_cpu_per_run(sizes.store_runs),
        curves=measure_curves(runs=sizes.curve_runs),
        footprints=measure_footprints(work, sizes.footprint_starts, sizes.footprint_runs),
        status_page=measure_status_page(sizes.status_renders),
    )
