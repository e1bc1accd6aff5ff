"""The whole comparison in one run: the floor, blackbox_exporter, and ours, side by side."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import inprocess, stores
from bench.procs import exporter_command, free_port, rss_bytes, server, wait_for
from bench.runs import PROMETHEUS_HEADERS, WRK_CPU, Row, Settings, measure
from bench.stdout import drained_pipe, stuck_pipe

BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 5s
"""


@dataclass(frozen=True)
class Results:
    """Everything one run measured."""

    rows: dict[str, Row]
    delivery_p50: float
    delivery_p99: float
    rss_after: int  # ours, after every load on it and the latency run
    startup_seconds: float
    queue_records_per_second: float
    file_handler_records_per_second: float
    store_cpu: dict[str, float]  # seconds a store-check run, by kind and case


def _blackbox(settings: Settings, work: Path) -> dict[str, Row]:
    static = work / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>a static page for blackbox_exporter to probe</p>\n")
    config = work / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    static_port, port = free_port(), free_port()
    static_url = f"http://127.0.0.1:{static_port}/"
    serve_static = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
    serve_static += ["--directory", str(static), str(static_port)]
    blackbox = ["prometheus-blackbox-exporter", f"--config.file={config}"]
    blackbox += [f"--web.listen-address=127.0.0.1:{port}"]
    base = f"http://127.0.0.1:{port}"
    # The probed page is served from wrk's core, so it does not take the peer's core.
    with server(serve_static, static_url, cpu=WRK_CPU), server(blackbox, base + "/-/healthy") as bb:
        return {
            "blackbox /metrics": measure("blackbox /metrics", base + "/metrics", bb, settings),
            "blackbox /metrics, as Prometheus scrapes": measure(
                "blackbox /metrics, as Prometheus scrapes",
                base + "/metrics",
                bb,
                settings,
                PROMETHEUS_HEADERS,
            ),
            "blackbox /probe": measure(
                "blackbox /probe",
                f"{base}/probe?module=http_2xx&target={static_url}",
                bb,
                settings,
            ),
        }


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


def _ours(
    settings: Settings, work: Path, requests: int
) -> tuple[dict[str, Row], float, float, int]:
    rows: dict[str, Row] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours.log", "--smoke-test.min-interval=0")
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as ours:
        name = "ours /metrics, as Prometheus scrapes"
        rows[name] = measure(name, base + "/metrics", ours, settings, PROMETHEUS_HEADERS)
        for name, path in [
            ("ours /metrics", "/metrics"),
            ("ours /-/healthy", "/-/healthy"),
            ("ours /smoke-test, min-interval 0", "/smoke-test"),
        ]:
            rows[name] = measure(name, base + path, ours, settings)
        p50, p99 = _delivery_latency(base, requests)
        rss_after = rss_bytes(ours.pid)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours-default.log")
    with drained_pipe() as stdout, server(command, base + "/-/ready", stdout=stdout) as ours:
        name = "ours /smoke-test, default min-interval"
        rows[name] = measure(name, base + "/smoke-test", ours, settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = exporter_command(port, work / "ours-stuck.log", "--smoke-test.timeout=0.5")
    with stuck_pipe() as stdout, server(command, base + "/-/healthy", stdout=stdout) as ours:
        name = "ours /metrics, stdout stuck"
        rows[name] = measure(name, base + "/metrics", ours, settings)
    return rows, p50, p99, rss_after


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


def run_suite(
    settings: Settings, work: Path, *, records: int, requests: int, store_runs: int
) -> Results:
    """Every measurement, in one run, with the same load settings for every target."""
    rows: dict[str, Row] = {}
    port = free_port()
    floor = [sys.executable, "-m", "bench.floor", str(port)]
    with server(floor, f"http://127.0.0.1:{port}/") as process:
        rows["floor"] = measure("floor", f"http://127.0.0.1:{port}/", process, settings)
    rows.update(_blackbox(settings, work))
    ours, p50, p99, rss_after = _ours(settings, work, requests)
    rows.update(ours)
    return Results(
        rows=rows,
        delivery_p50=p50,
        delivery_p99=p99,
        rss_after=rss_after,
        startup_seconds=_startup(work, 3),
        queue_records_per_second=inprocess.pipeline_records_per_second(records),
        file_handler_records_per_second=inprocess.file_handler_records_per_second(records),
        store_cpu=stores.store_cpu_per_run(store_runs),
    )
