"""The smoke test inside a real service (issue 24): a FastAPI app under uvicorn and an aiohttp
app, each a process on 127.0.0.1 (tests.support.inside_host), their own logging broken and
mended while they run, with no restart."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
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
LOGGING_CHECK = f"checks:\n  - name: logging\n    type: logging\n    timeout: {TIMEOUT:g}s\n"


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

    def _ask(self, request: urllib.request.Request) -> Answer:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return Answer(response.status, headers, response.read())
        except urllib.error.HTTPError as error:
            headers = {k.lower(): v for k, v in error.headers.items()}
            return Answer(error.code, headers, error.read())


def sample(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return metrics[(name, frozenset(labels.items()))]


def signature(run_id: str, seq: int) -> str:
    """The canary's signature as docs/canary.md defines it, made here again."""
    parts = (b"smoke-test-exporter canary v1", run_id.encode(), str(seq).encode(), INSTANCE.encode())
    text = b"".join(b"%d:%s," % (len(part), part) for part in parts)
    return hmac.new(KEY, text, hashlib.sha256).hexdigest()[:32]


StartHost = Callable[..., Host]


@pytest.fixture(params=["aiohttp", "fastapi"])
def framework(request: pytest.FixtureRequest) -> str:
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
        host.process.kill()
        host.process.wait(10)


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
    return [line for line in lines(host.log) if line["message"] == CANARY]


def assert_ok(host: Host, handlers: dict[str, str]) -> dict[str, Any]:
    """The smoke test answers 200 with the original design's fields and ``handlers`` all ok;
    its canary is one JSON line in the service's own log file, signed. The body."""
    answer, body = host.smoke()
    assert answer.status == 200
    assert answer.headers["x-host"] == "petsage"
    assert answer.headers["cache-control"] == "no-store"
    assert (body["status"], body["message"], body["trigger"]) == ("ok", MESSAGE, "http")
    assert datetime.fromisoformat(body["timestamp"]).tzinfo == UTC
    assert len(body["run_id"]) == 32 and int(body["run_id"], 16) >= 0
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
    host: Host, reason: str, error: str, component: dict[str, str], handlers: dict[str, str]
) -> dict[str, Any]:
    """The smoke test answers 503 naming ``reason`` and ``error``; the body."""
    answer, body = host.smoke()
    assert answer.status == 503
    assert answer.headers["x-host"] == "petsage"
    assert body["status"] == "fail"
    assert body["message"] == f"Smoke test failed: check logging failed on {component['kind']} {component['id']}: {error}"
    logging_check = body["checks"]["logging"]
    assert logging_check.pop("duration_seconds") >= 0
    expected = {
        "status": "fail",
        "logger": LOGGER,
        "handlers": handlers,
        "reason": reason,
        "error": error,
        "component": component,
    }
    assert logging_check == expected
    return body


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
