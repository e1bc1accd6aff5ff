"""A check type and a sink type defined here alone, each one registry line away from working:
the config file, the answer, the metrics, health+json and OpenAPI all follow."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from exporter.checks import CHECK_TYPES
from exporter.checks.base import CheckDeps, CheckType
from exporter.sinks import OK, SINK_TYPES, Batch, Reason, Sink, SinkDeps, SinkOutcome, SinkType
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status
from tests.conftest import CANARY, StartExporter
from tests.support.openapi_spec import Spec, fetch_spec, operation


class CoinReason(enum.Enum):
    """Why a coin check is not ok."""

    TAILS = "tails"


@dataclass(frozen=True)
class CoinOptions:
    """``type: coin``: the status it gives, and the value it observes."""

    status: str = "ok"
    grams: float = 7.5


class CoinCheck:
    """Reports what its options say."""

    def __init__(self, name: str, options: CoinOptions) -> None:
        self._name = name
        self._options = options

    async def __call__(self, run: RunInfo) -> CheckResult:
        status = Status(self._options.status)
        if status is Status.OK:
            return CheckResult(
                status, observed=Observed(self._options.grams, "g"), detail={"face": "heads"}
            )
        return CheckResult(
            status,
            CoinReason.TAILS,
            f"tails in run {run.run_id}",
            Component("coin", self._name),
            Observed(self._options.grams, "g"),
            detail={"face": "tails"},
        )


def build_coin(name: str, options: CoinOptions, deps: CheckDeps) -> Check:
    return CoinCheck(name, options)


COIN = CheckType(
    CoinOptions,
    build_coin,
    CoinReason,
    "a coin toss decided by its options",
    {"face": {"enum": ["heads", "tails"]}},
)

# What each memory sink was given, by sink name.
RECEIVED: dict[str, list[str]] = {}


@dataclass(frozen=True)
class MemoryOptions:
    """``type: memory``: how many lines it takes before it refuses."""

    capacity: int


class MemorySink(Sink):
    """Keeps lines in a list; a full list is a write error."""

    def __init__(self, name: str, capacity: int, deps: SinkDeps) -> None:
        super().__init__(name, deps.series)
        self._capacity = capacity
        self.lines = RECEIVED.setdefault(name, [])

    def deliver(self, batch: Batch) -> SinkOutcome:
        if len(self.lines) + len(batch.lines) > self._capacity:
            return SinkOutcome(False, Reason.WRITE, f"{self._capacity} lines held: full")
        self.lines.extend(line.text for line in batch.lines)
        return OK


def build_memory(name: str, options: MemoryOptions, deps: SinkDeps) -> Sink:
    return MemorySink(name, options.capacity, deps)


MEMORY = SinkType(MemoryOptions, build_memory, "lines kept in memory")


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one line each type needs, in each mapping."""
    monkeypatch.setitem(cast(dict[str, Any], CHECK_TYPES), "coin", COIN)
    monkeypatch.setitem(cast(dict[str, Any], SINK_TYPES), "memory", MEMORY)
    RECEIVED.clear()


CONFIG = """
sinks:
  - {name: stdout, type: stdout}
  - {name: mem, type: memory, capacity: %d}
checks:
  - {name: logging, type: logging}
  - {name: toss, type: coin, status: %s, grams: 3}
"""


def config(tmp_path: Path, status: str, capacity: int = 1000) -> Path:
    path = tmp_path / "smoke-test.yml"
    path.write_text(CONFIG % (capacity, status), encoding="utf-8")
    return path


def check_answer(spec: Spec, path: str, status: int, headers: Any, body: bytes) -> None:
    spec.check(operation(path, "get", status), headers, body)


async def test_a_new_check_and_sink_type_work_end_to_end(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=config(tmp_path, "warn"))
    async with exporter.client.get("/smoke-test") as response:
        assert response.status == 200  # a warning passes
        raw = await response.read()
        headers = response.headers
    body = json.loads(raw)
    assert body["status"] == "warn"
    assert body["message"] == "PetSage systems are purring perfectly!"
    assert list(body["checks"]) == ["logging", "toss"]
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "mem": "ok", "file": "ok"}
    assert body["checks"]["toss"] == {
        "status": "warn",
        "duration_seconds": body["checks"]["toss"]["duration_seconds"],
        "face": "tails",
        "observed_value": 3.0,
        "observed_unit": "g",
        "reason": "tails",
        "error": f"tails in run {body['run_id']}",
        "component": {"kind": "coin", "id": "toss"},
    }
    # The memory sink got this run's canary, as every sink did.
    canaries = [json.loads(line) for line in RECEIVED["mem"] if CANARY in line]
    assert [c["run_id"] for c in canaries][-1] == body["run_id"]

    assert exporter.sample("smoke_test_check_success", check="toss") == 1
    for status, value in (("ok", 0), ("warn", 1), ("fail", 0)):
        assert exporter.sample("smoke_test_check_status", check="toss", status=status) == value
    assert exporter.sample("smoke_test_log_delivery_seconds_count", sink="mem") >= 2
    assert exporter.sample("smoke_test_log_sink_errors_total", sink="mem", reason="write") == 0

    spec = await fetch_spec(exporter)
    check_answer(spec, "/smoke-test", 200, headers, raw)
    schemas = spec.document["components"]["schemas"]
    assert schemas["SmokeTest"]["properties"]["checks"]["properties"] == {
        "logging": {"$ref": "#/components/schemas/LoggingCheck"},
        "toss": {"$ref": "#/components/schemas/CoinCheck"},
    }
    # Its own reasons, the runner's, and ``retried``: a new type takes retries.
    assert schemas["CoinCheck"]["properties"]["reason"] == {
        "enum": ["tails", "timeout", "exception", "retried", None]
    }
    assert schemas["CoinCheck"]["properties"]["face"] == {"enum": ["heads", "tails"]}

    health = {"Accept": "application/health+json"}
    async with exporter.client.get("/smoke-test", headers=health) as response:
        assert response.status == 200
        raw, headers = await response.read(), response.headers
    check_answer(spec, "/smoke-test", 200, headers, raw)
    document = json.loads(raw)
    assert document["status"] == "warn"
    [toss] = document["checks"]["toss:duration"]
    assert (toss["componentId"], toss["status"]) == ("toss", "warn")
    assert toss["output"].startswith("tails in run ")
    assert [e["componentId"] for e in document["checks"]["logging:delivery"]] == [
        "stdout",
        "mem",
        "file",
    ]


async def test_a_failing_new_check_and_a_full_new_sink_fail_the_run_with_their_causes(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    exporter = await start_exporter(config_file=config(tmp_path, "fail", capacity=1))
    async with exporter.client.get("/smoke-test") as response:
        assert response.status == 503
        raw, headers = await response.read(), response.headers
    body = json.loads(raw)
    assert body["status"] == "fail"
    assert body["message"] == (
        "Smoke test failed: check logging failed on sink mem: 1 lines held: full; "
        f"check toss failed on coin toss: tails in run {body['run_id']}"
    )
    logging_check = body["checks"]["logging"]
    assert (logging_check["reason"], logging_check["component"]) == (
        "write",
        {"kind": "sink", "id": "mem"},
    )
    assert body["checks"]["toss"]["status"] == "fail"
    assert exporter.sample("smoke_test_check_success", check="toss") == 0
    assert exporter.sample("smoke_test_log_sink_errors_total", sink="mem", reason="write") >= 1
    spec = await fetch_spec(exporter)
    check_answer(spec, "/smoke-test", 503, headers, raw)
