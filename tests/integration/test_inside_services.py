"""The smoke test inside a real service (issue 24): a FastAPI app under uvicorn and an aiohttp
app, each a process on 127.0.0.1 (tests.support.inside_host), their own logging broken and
mended while they run, with no restart."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CANARY
from tests.disks import tiny_filesystem
from tests.integration.exporter_process import finished_text, lines
from tests.support.inside_host import LOG_NAME, PETS
from tests.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
INSTANCE = "petsage-1"
LOGGER = "petsage.smoke_test"
MESSAGE = "PetSage systems are purring perfectly!"
SMOKE = "/health/smoke-test"
PAGE = 4096
# Each check's time: a stopped QueueListener costs one of it per failing run.
TIMEOUT = 1.0
# The logging check's failure reasons, each a series at 0 from the start; the run's triggers.
REASONS = ("filtered", "no_handler", "handler_error", "verify", "timeout", "exception")
TRIGGERS = ("startup", "schedule", "http")
LOGGING_CHECK = f"checks:\n  - name: logging\n    type: logging\n    timeout: {TIMEOUT:g}s\n"
WARNING_ONLY = f"logger {LOGGER} drops INFO: its level is WARNING, set on root"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case: uvicorn sends them so
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Host:
    """A running service with the smoke test inside; its log file and stderr."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    stderr: Path

    def get(self, path: str) -> Answer:
        return self._ask(urllib.request.Request(self.url + path))

    def smoke(self) -> tuple[Answer, dict[str, Any]]:
        """GET the smoke test: the answer and its JSON body."""
        answer = self.get(SMOKE)
        assert answer.headers["content-type"].split(";")[0] == "application/json"
        return answer, answer.json()

    def logging(self, **change: str) -> dict[str, Any]:
        """Change the service's logging through its admin route; its state after."""
        data = json.dumps(change).encode()
        answer = self._ask(urllib.request.Request(self.url + "/admin/logging", data, method="POST"))
        assert answer.status == 200, answer.body
        state: dict[str, Any] = answer.json()
        return state

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of the service's own /metrics, by name and labels."""
        answer = self.get("/metrics")
        assert answer.status == 200
        assert answer.headers["x-host"] == "petsage"  # the service's middleware served it
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.body.decode())
            for sample in family.samples
        }

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def _ask(self, request: urllib.request.Request) -> Answer:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return Answer(response.status, headers, response.read())
        except urllib.error.HTTPError as error:
            headers = {k.lower(): v for k, v in error.headers.items()}
            return Answer(error.code, headers, error.read())


def sample(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics[(name, frozenset(labels.items()))]


def signature(run_id: str, seq: int) -> str:
    """The canary's signature as docs/canary.md defines it, made here again."""
    parts = (
        b"smoke-test-exporter canary v1",
        run_id.encode(),
        str(seq).encode(),
        INSTANCE.encode(),
    )
    text = b"".join(b"%d:%s," % (len(part), part) for part in parts)
    return hmac.new(KEY, text, hashlib.sha256).hexdigest()[:32]


StartHost = Callable[..., Host]


@pytest.fixture(params=["aiohttp", "fastapi"])
def framework(request: pytest.FixtureRequest) -> str:
    """Each test runs against both services."""
    return str(request.param)


@pytest.fixture
def start_host(tmp_path: Path, framework: str) -> Iterator[StartHost]:
    """Factory: the service as a process, logging into ``log_dir``; always killed after."""
    hosts: list[Host] = []

    def start(log_dir: Path | None = None, config: str = LOGGING_CHECK) -> Host:
        n = len(hosts)
        if log_dir is None:
            log_dir = tmp_path / f"logs-{n}"
            log_dir.mkdir()
        config_file = tmp_path / f"smoke-test-{n}.yml"
        config_file.write_text(config)
        out, err = tmp_path / f"host-{n}.out", tmp_path / f"host-{n}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tests.support.inside_host"),
                    *("--framework", framework, "--port", "0", "--log-dir", str(log_dir)),
                    *("--config", str(config_file), "--canary-key", KEY.hex()),
                ],
                cwd=ROOT,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        host = Host(process, "", log_dir / LOG_NAME, err)
        hosts.append(host)
        host.url = f"http://127.0.0.1:{_port(process, out, err)}"
        wait_until(lambda: _started(host), "the service's start-up run ended", 30)
        return host

    yield start
    for host in hosts:
        host.kill()


def _port(process: subprocess.Popen[bytes], out: Path, err: Path) -> int:
    port: list[int] = []

    def announced() -> bool:
        assert process.poll() is None, f"the service exited: {err.read_text()}"
        text = finished_text(out)
        port.extend(json.loads(line)["port"] for line in text.splitlines()[:1])
        return bool(port)

    wait_until(announced, "the service announced its port", 30)
    return port[0]


def _started(host: Host) -> bool:
    """The start-up run has ended: a smoke test asked for now runs on its own."""
    assert host.process.poll() is None, f"the service exited: {host.stderr.read_text()}"
    try:
        metrics = host.metrics()
    except (urllib.error.URLError, ConnectionError):
        return False
    return sample(metrics, "smoke_test_runs_total", trigger="startup") == 1


def canaries(host: Host) -> list[dict[str, Any]]:
    return [line for line in lines(host.log) if line.get("message") == CANARY]


def assert_ok(host: Host, handlers: dict[str, str]) -> dict[str, Any]:
    """The smoke test answers 200 with the original design's fields and ``handlers`` all ok;
    its canary is one JSON line in the service's own log file, signed. The body."""
    answer, body = host.smoke()
    assert answer.status == 200
    assert answer.headers["x-host"] == "petsage"
    assert answer.headers["cache-control"] == "no-store"
    assert (body["status"], body["message"], body["trigger"]) == ("ok", MESSAGE, "http")
    assert datetime.fromisoformat(body["timestamp"]).tzinfo == UTC
    assert re.fullmatch("[0-9a-f]{32}", body["run_id"])
    logging_check = body["checks"]["logging"]
    assert logging_check.pop("duration_seconds") >= 0
    assert logging_check == {"status": "ok", "logger": LOGGER, "handlers": handlers}
    mine = [line for line in canaries(host) if line["run_id"] == body["run_id"]]
    assert len(mine) == 1, mine
    line = dict(mine[0])
    datetime.strptime(line.pop("asctime"), "%Y-%m-%d %H:%M:%S,%f")
    seq = line["seq"]
    assert line == {
        "levelname": "INFO",
        "name": LOGGER,
        "message": CANARY,
        "run_id": body["run_id"],
        "trigger": "http",
        "seq": seq,
        "instance": INSTANCE,
        "signature": signature(body["run_id"], seq),
    }
    return body


def assert_failed(
    host: Host,
    reason: str,
    error: str,
    component: tuple[str, str],
    handlers: dict[str, str],
) -> dict[str, Any]:
    """The smoke test answers 503, its logging check failed for ``reason`` with ``error`` on
    ``component`` (kind, id); the body."""
    answer, body = host.smoke()
    assert answer.status == 503
    assert answer.headers["x-host"] == "petsage"
    kind, where = component
    assert (body["status"], body["trigger"]) == ("fail", "http")
    assert body["message"] == f"Smoke test failed: check logging failed on {kind} {where}: {error}"
    logging_check = body["checks"]["logging"]
    assert logging_check.pop("duration_seconds") >= 0
    expected: dict[str, Any] = {"status": "fail", "logger": LOGGER, "handlers": handlers}
    if kind == "handler":
        expected["failed_handler"] = where
    expected |= {"reason": reason, "error": error, "component": {"kind": kind, "id": where}}
    assert logging_check == expected
    assert [line["run_id"] for line in canaries(host)].count(body["run_id"]) == 0
    return body


def failures(host: Host) -> dict[str, float]:
    """The logging check's failures by reason, from the service's /metrics."""
    metrics = host.metrics()
    return {
        reason: sample(metrics, "smoke_test_check_failures_total", check="logging", reason=reason)
        for reason in REASONS
    }


def only(reason: str) -> dict[str, float]:
    """No failure but one for ``reason`` (none for a reason no check has)."""
    return {r: float(r == reason) for r in REASONS}


def test_a_healthy_service_answers_ok_and_logs_the_canary_as_one_json_line(
    start_host: StartHost,
) -> None:
    host = start_host()
    first = assert_ok(host, {f"FileHandler {host.log}": "ok"})
    second = assert_ok(host, {f"FileHandler {host.log}": "ok"})
    # The start-up run's canary, then one a request, numbered 1, 2, 3.
    seen = [(line["trigger"], line["run_id"], line["seq"]) for line in canaries(host)]
    assert seen[1:] == [("http", first["run_id"], 2), ("http", second["run_id"], 3)]
    assert seen[0][::2] == ("startup", 1)
    assert failures(host) == only("none")


def fill(disk: Path, log: Path) -> int:
    """End the log at a page boundary (tmpfs gives space a page at a time), then fill every
    other page: the next line written gets no byte on disk. The log's size then."""
    padding = -(log.stat().st_size + len('{"pad": ""}\n')) % PAGE
    with log.open("a") as f:
        f.write('{"pad": "' + "x" * padding + '"}\n')
    with (disk / "filler").open("ab", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 512)
    return log.stat().st_size


def test_a_full_disk_fails_with_handler_error_and_recovers_when_space_is_freed(
    start_host: StartHost, tmp_path: Path
) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        host = start_host(disk)
        try:
            handler = f"FileHandler {host.log}"
            assert_ok(host, {handler: "ok"})
            full = fill(disk, host.log)
            # FileHandler's flush raises ENOSPC inside emit, so logging calls handleError.
            error = f"{handler} failed to write it: OSError: No space left on device"
            failed = assert_failed(
                host, "handler_error", error, ("handler", handler), {handler: "fail"}
            )
            assert host.log.stat().st_size == full
            # handleError printed it, as logging does: the canary, then the service's own
            # WARNING about the failed run.
            assert host.stderr.read_text().count("--- Logging error ---") == 2
            (disk / "filler").unlink()
            healed = assert_ok(host, {handler: "ok"})
            # The lines the full disk refused stayed in the handler's buffer and are written
            # with the next one: the failed run's canary arrives late, whole.
            after = lines(host.log)
            pad = [i for i, line in enumerate(after) if "pad" in line]
            assert [(line["message"], line["run_id"]) for line in after[pad[0] + 1 :]] == [
                (CANARY, failed["run_id"]),
                (failed["message"], failed["run_id"]),
                (CANARY, healed["run_id"]),
            ]
            assert failures(host) == only("handler_error")
        finally:
            host.kill()  # the service lets go of its log before the disk is unmounted


def test_a_root_logger_at_warning_filters_the_canary_and_recovers_at_info(
    start_host: StartHost,
) -> None:
    host = start_host()
    handler = f"FileHandler {host.log}"
    assert_ok(host, {handler: "ok"})
    assert host.logging(level="WARNING") == {
        "level": "WARNING",
        "handlers": ["FileHandler"],
        "listener": "stopped",
    }
    failed = assert_failed(host, "filtered", WARNING_ONLY, ("logger", "root"), {})
    # The service's own WARNING about it still passes the root logger.
    last = lines(host.log)[-1]
    del last["asctime"]
    assert last == {
        "levelname": "WARNING",
        "name": "exporter.run.runner",
        "message": failed["message"],
        "run_id": failed["run_id"],
        "trigger": "http",
    }
    assert host.logging(level="INFO")["level"] == "INFO"
    assert_ok(host, {handler: "ok"})
    assert failures(host) == only("filtered")


def test_a_service_with_no_handler_fails_with_no_handler_and_recovers(
    start_host: StartHost,
) -> None:
    host = start_host()
    handler = f"FileHandler {host.log}"
    assert_ok(host, {handler: "ok"})
    size = host.log.stat().st_size
    assert host.logging(handlers="none")["handlers"] == []
    error = (
        f"no handler took the record: logger {LOGGER} and its parents have none, so Python's "
        "last resort gets it (stderr, WARNING and above only)"
    )
    failed = assert_failed(host, "no_handler", error, ("logger", LOGGER), {})
    assert host.log.stat().st_size == size
    # The last resort printed the service's WARNING about it, bare, on stderr.
    assert host.stderr.read_text().splitlines()[-1] == failed["message"]
    assert host.logging(handlers="file")["handlers"] == ["FileHandler"]
    assert_ok(host, {handler: "ok"})
    assert failures(host) == only("no_handler")


def test_a_stopped_queue_listener_times_out_and_recovers_when_started_again(
    start_host: StartHost,
) -> None:
    host = start_host()
    handler = f"FileHandler {host.log}"
    assert host.logging(handlers="queue") == {
        "level": "INFO",
        "handlers": ["QueueHandler"],
        "listener": "running",
    }
    both = {"QueueHandler": "ok", f"QueueHandler > {handler}": "ok"}
    assert_ok(host, both)
    assert host.logging(listener="stop")["listener"] == "stopped"
    error = (
        f"QueueHandler: its QueueListener did not deliver the canary within {TIMEOUT:g}s "
        "(its thread is not running)"
    )
    failed = assert_failed(
        host, "timeout", error, ("handler", "QueueHandler"), {"QueueHandler": "fail"}
    )
    assert host.logging(listener="start")["listener"] == "running"
    healed = assert_ok(host, both)
    # The queue kept what came while the listener was stopped, and delivers it first.
    assert [(line["message"], line["run_id"]) for line in lines(host.log)[-3:]] == [
        (CANARY, failed["run_id"]),
        (failed["message"], failed["run_id"]),
        (CANARY, healed["run_id"]),
    ]
    assert failures(host) == only("timeout")


def seq_of(host: Host, run_id: str) -> int:
    """The seq of the run's canary line in the service's log."""
    (seq,) = [line["seq"] for line in canaries(host) if line["run_id"] == run_id]
    return int(seq)


def store_entry(body: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = body["checks"]["host-log"]
    assert entry.pop("duration_seconds") >= 0
    return entry


def assert_found(host: Host, body: dict[str, Any], previous: str) -> None:
    """The store check found the newest canary in the service's log: this run's, or, when the
    run's query read the file before the canary was in it, the ``previous`` run's."""
    entry = store_entry(body)
    newest = entry["newest"]
    mine = newest["run_id"] == body["run_id"]
    assert newest["run_id"] == (body["run_id"] if mine else previous)
    written = seq_of(host, body["run_id"])  # every canary since start-up
    found = written if mine else written - 1
    assert newest["seq"] == seq_of(host, newest["run_id"]) == found
    delay = entry.pop("observed_value")
    assert delay >= 0
    assert newest.pop("delay_seconds") == round(delay, 6)
    assert entry == {
        "status": "ok",
        "canaries": {
            **dict.fromkeys(("late", "duplicate", "lost", "dropped_pending", "forged"), 0),
            **{"pending": written - found, "written": written, "found": found, "missing": 0},
        },
        "newest": {"run_id": newest["run_id"], "seq": found, "state": "found"},
        "observed_unit": "s",
    }
    metrics = host.metrics()
    assert sample(metrics, "smoke_test_canary_written_total", store="host-log") == written
    assert sample(metrics, "smoke_test_canary_found_total", store="host-log") == found
    assert sample(metrics, "smoke_test_canary_pending", store="host-log") == written - found
    assert sample(metrics, "smoke_test_check_success", check="host-log") == 1


def test_a_file_store_check_finds_the_canaries_in_the_services_own_log(
    start_host: StartHost, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    log = log_dir / LOG_NAME
    store = f"  - name: host-log\n    type: file\n    path: {log}\n    max_delay: 200ms\n"
    host = start_host(log_dir, LOGGING_CHECK + store)
    (startup,) = [line["run_id"] for line in canaries(host)]
    previous = startup
    for _ in range(2):
        body = assert_ok(host, {f"FileHandler {log}": "ok"})
        assert_found(host, body, previous)
        previous = body["run_id"]
    healthy = seq_of(host, previous)
    # With no handler, the canaries never reach the file: once one is max_delay old, the
    # store check says it is missing.
    host.logging(handlers="none")
    lost: list[dict[str, Any]] = []

    def missing() -> bool:
        lost.append(host.smoke()[1])
        return bool(lost[-1]["checks"]["host-log"]["status"] == "fail")

    wait_until(missing, "the store check says a canary is missing")
    entry = store_entry(lost[-1])
    newest = entry["newest"]
    seqs = {body["run_id"]: healthy + n for n, body in enumerate(lost, 1)}
    seq = seqs[newest["run_id"]]
    assert entry == {
        "status": "fail",
        "reason": "missing",
        "error": f"canary seq {seq} of run {newest['run_id']} not found within max_delay 0.2s",
        "component": {"kind": "path", "id": str(log)},
        "canaries": {
            **dict.fromkeys(("late", "duplicate", "lost", "dropped_pending", "forged"), 0),
            **{"written": healthy + len(lost), "found": healthy, "missing": seq - healthy},
            "pending": healthy + len(lost) - seq,
        },
        "newest": {"run_id": newest["run_id"], "seq": seq, "state": "missing"},
    }
    assert [line["run_id"] for line in canaries(host)].count(newest["run_id"]) == 0
    # Handlers back: the next canaries are found, newer than every missing one.
    host.logging(handlers="file")
    healed: list[dict[str, Any]] = []

    def found() -> bool:
        answer, body = host.smoke()
        healed.append(body)
        return answer.status == 200

    wait_until(found, "the store check finds the canaries again")
    entry = store_entry(healed[-1])
    newest = entry["newest"]
    assert newest["state"] == "found"
    assert newest["run_id"] in [body["run_id"] for body in healed]
    assert newest["seq"] == seq_of(host, newest["run_id"])
    counts = entry["canaries"]
    assert counts["written"] == healthy + len(lost) + len(healed)
    assert counts["written"] == counts["found"] + counts["missing"] + counts["pending"]
    assert [counts[key] for key in ("late", "duplicate", "lost", "forged")] == [0, 0, 0, 0]


# Every smoke test series a service with the logging check alone gets: the run's and the
# check's families (no observed value: the logging check measures none).
SMOKE_SERIES = {
    "smoke_test_success",
    "smoke_test_last_run_timestamp_seconds",
    "smoke_test_last_success_timestamp_seconds",
    "smoke_test_interval_seconds",
    "smoke_test_runs_total",
    "smoke_test_runs_created",
    "smoke_test_failures_total",
    "smoke_test_failures_created",
    "smoke_test_duration_seconds_bucket",
    "smoke_test_duration_seconds_count",
    "smoke_test_duration_seconds_sum",
    "smoke_test_duration_seconds_created",
    "smoke_test_check_success",
    "smoke_test_check_duration_seconds",
    "smoke_test_check_status",
    "smoke_test_check_failures_total",
    "smoke_test_check_failures_created",
    "smoke_test_check_runs_total",
    "smoke_test_check_runs_created",
    "smoke_test_slo_window_seconds",
}


def assert_series(host: Host, http: int, failed: int, pets: int, ok: bool) -> None:
    """The service's /metrics: its own series, and the smoke test's with exact values after
    ``http`` runs asked for, ``failed`` of them failed, the last one ``ok`` or not."""
    metrics = host.metrics()
    names = {name for name, _ in metrics}
    assert {name for name in names if name.startswith("smoke_test_")} == SMOKE_SERIES
    own = ("petsage_", "process_", "python_")
    assert {name for name in names if not name.startswith(("smoke_test_", *own))} == set()
    assert sample(metrics, "petsage_pet_listings_total") == pets
    assert sample(metrics, "process_start_time_seconds") > 0
    runs = {t: sample(metrics, "smoke_test_runs_total", trigger=t) for t in TRIGGERS}
    assert runs == {"startup": 1, "schedule": 0, "http": http}
    fails = {t: sample(metrics, "smoke_test_failures_total", trigger=t) for t in TRIGGERS}
    assert fails == {"startup": 0, "schedule": 0, "http": failed}
    assert sample(metrics, "smoke_test_duration_seconds_count") == 1 + http
    assert sample(metrics, "smoke_test_check_runs_total", check="logging") == 1 + http
    assert sample(metrics, "smoke_test_slo_window_seconds") == 30 * 86400
    assert sample(metrics, "smoke_test_interval_seconds") == 0
    assert sample(metrics, "smoke_test_success") == ok
    assert sample(metrics, "smoke_test_check_success", check="logging") == ok
    status = {
        s: sample(metrics, "smoke_test_check_status", check="logging", status=s)
        for s in ("ok", "warn", "fail")
    }
    assert status == {"ok": ok, "warn": 0, "fail": not ok}
    last_run = sample(metrics, "smoke_test_last_run_timestamp_seconds")
    last_success = sample(metrics, "smoke_test_last_success_timestamp_seconds")
    assert (last_success == last_run) is ok
    assert failures(host) == only("filtered" if failed else "none")


def test_the_services_own_routes_middleware_and_metrics_stay_beside_the_smoke_test(
    start_host: StartHost,
) -> None:
    host = start_host()
    assert_series(host, http=0, failed=0, pets=0, ok=True)
    for _ in range(2):
        pets = host.get("/pets")
        assert (pets.status, pets.json(), pets.headers["x-host"]) == (200, PETS, "petsage")
    handler = f"FileHandler {host.log}"
    assert_ok(host, {handler: "ok"})
    assert_series(host, http=1, failed=0, pets=2, ok=True)
    host.logging(level="WARNING")
    assert_failed(host, "filtered", WARNING_ONLY, ("logger", "root"), {})
    assert_series(host, http=2, failed=1, pets=2, ok=False)
    host.logging(level="INFO")
    assert_ok(host, {handler: "ok"})
    assert_series(host, http=3, failed=1, pets=2, ok=True)
    # The service's own lines, through its own handler, beside the canaries.
    own = [line["name"] for line in lines(host.log) if line.get("message") == "Listing pets"]
    assert own == ["petsage", "petsage"]
