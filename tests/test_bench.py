"""The benchmark harness: a one-second run of all of it, so it cannot rot. Targets are not
asserted here; `make bench` measures them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.floor import BODY
from bench.targets import TARGETS
from bench.wrk import WrkResult, parse
from tests.promtool import require

ROOT = Path(__file__).resolve().parent.parent

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:9707/metrics
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.10ms    1.02ms  20.00ms   90.00%
    Req/Sec     9.80k   500.00    10.50k    70.00%
  Latency Distribution
     50%  850.00us
     75%    5.20ms
     90%    5.80ms
     99%    1.20s
  9750 requests in 1.00s, 5.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   9750.50
Transfer/sec:      5.00MB
"""


def test_wrk_report_is_read_exactly() -> None:
    assert parse(WRK_OUTPUT) == WrkResult(
        requests=9750,
        seconds=1.0,
        requests_per_second=9750.5,
        p50=850e-6,
        p99=1.2,
        non_2xx=12,
        socket_errors=3,
    )


def test_the_floor_answers_100_bytes() -> None:
    assert len(BODY) == 100


def test_a_one_second_run_measures_every_row_and_target(tmp_path: Path) -> None:
    for tool in ("wrk", "prometheus-blackbox-exporter", "taskset"):
        require(tool)
    output = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--seconds=1", "--rounds=1", "--warmup=0"),
            *("--records=2000", "--requests=50", "--store-runs=20", "--cadence-scrapes=20"),
            *("--curve-runs=5", "--footprint-starts=1", "--footprint-runs=5"),
            "--status-renders=2",
            f"--output={output}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    rows = {
        "floor",
        "blackbox /metrics",
        "blackbox /metrics, as Prometheus scrapes",
        "ours /metrics, as Prometheus scrapes",
        "blackbox /probe",
        "ours /metrics",
        "ours /-/healthy",
        "ours /smoke-test, min-interval 0",
        "ours /smoke-test, default min-interval",
        "ours /metrics, stdout stuck",
        "ours /metrics, 1000 connections, as Prometheus scrapes",
        "ours /smoke-test, 1000 connections",
    }
    for row in rows:
        match = re.search(rf"^\| {re.escape(row)} \| ([\d,]+) \|", text, re.MULTILINE)
        assert match is not None, row
        assert int(match[1].replace(",", "")) > 0, row
    for target in TARGETS:
        assert re.search(rf"^\| {re.escape(target.name)} \| ", text, re.MULTILINE), target.name
    for kind in ("loki", "file"):
        cells = r" \| ".join([r"[\d.]+ ms"] * 4)
        assert re.search(rf"^\| {kind} \| {cells} \|$", text, re.MULTILINE), kind
    # The cadence: one line a round (one round here), each server's CPU and the ratio.
    server = r"[\d.]+, [\d.]+ \| [\d.]+"
    cadence = rf"^\| 1 \| {server} \| {server} \| ([\d.]+|n\.a\.) \|$"
    assert re.search(cadence, text, re.MULTILINE), "cadence"
    assert re.search(r"^Answers, gzip'd: ours [\d,]+ bytes, blackbox's [\d,]+ bytes\.$", text, re.M)
    memory = re.findall(r"^\| (at start|after [^|]+) \| ([\d.]+) MB \|$", text, re.MULTILINE)
    # The floods' exporter: at start, 4 floods, the cadence, the soak; the bursts': at start, 2.
    assert len(memory) == 7 + 3, memory
    assert all(float(mb) > 0 for _, mb in memory), memory
    points = re.findall(
        r"^\| (\d+) \| [\d.]+ ms \| [\d.]+ ms \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ ms \|$",
        text,
        re.MULTILINE,
    )
    assert points == ["1", "5", "20", "50"], points
    assert re.search(
        r"^Series one more check adds, measured after a run: http \d+, tcp \d+, disk \d+\.$",
        text,
        re.MULTILINE,
    )
    # Memory by check type: each config's row, and every run of every check passed (`| 0 |`).
    configs = re.findall(
        r"^\| (default \(the logging check\)|\+ one [^|]+) \| [\d.]+ MB \| [\d.]+ MB \| "
        r"[+-][\d.]+ MB \| [+-][\d.]+ MB \| 0 \|$",
        text,
        re.MULTILINE,
    )
    assert configs == [
        "default (the logging check)",
        "+ one grpc check",
        "+ one dns check",
        "+ one websocket check",
        "+ one check of each",
    ], configs
    # The status page: its bytes and the CPU of a render at each count of checks.
    status = re.findall(
        r"^\| (\d+) \| [\d,]+ \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+ ms \|$", text, re.MULTILINE
    )
    assert status == ["1", "20", "50"], status
    for png in ("bench-runs.png", "bench-metrics.png", "bench-stores.png"):
        assert (tmp_path / "docs" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f"](docs/{png})" in text, png
    assert "## Machine" in text
