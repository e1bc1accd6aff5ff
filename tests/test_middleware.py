"""JSON error bodies, per-route request metrics, and the cap on requests in flight."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import ClientTimeout, web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, Counter

from exporter.checks import CHECK_TYPES
from exporter.checks.base import CheckDeps, CheckType
from exporter.verdict import Check, CheckResult, RunInfo, Status
from exporter.web.limit import RESERVE, RESERVED_ROUTES, RequestLimit
from tests.conftest import Exporter, StartExporter
from tests.wait import until

REJECTED = "smoke_test_http_requests_rejected_total"
# What a request that must not wait on a held run is given: a bug fails the test, not hangs it.
AT_ONCE = ClientTimeout(total=10)


async def test_unknown_path_is_a_json_404(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/nope?x=1") as response:
        assert response.status == 404
        assert response.content_type == "application/json"
        assert await response.json() == {
            "status": 404,
            "error": "Not Found",
            "message": "no endpoint at /nope; see / for the list",
        }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_wrong_method_is_a_json_405_with_allow(
    start_exporter: StartExporter, method: str
) -> None:
    exporter = await start_exporter()
    async with exporter.client.request(method, "/smoke-test") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET,HEAD"
        assert await response.json() == {
            "status": 405,
            "error": "Method Not Allowed",
            "message": f"method {method} is not allowed on /smoke-test; use GET, HEAD",
        }


async def test_wrong_method_does_not_run_the_smoke_test(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    before = exporter.sample("smoke_test_runs_total", trigger="http")
    async with exporter.client.post("/smoke-test") as response:
        assert response.status == 405
    assert exporter.sample("smoke_test_runs_total", trigger="http") == before


async def test_declared_large_body_is_refused_with_413_before_it_is_read(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/-/healthy", data=b"x" * 4096) as response:
        assert response.status == 413
        assert await response.json() == {
            "status": 413,
            "error": "Request Entity Too Large",
            "message": "request body of 4096 bytes refused: no endpoint takes more than 1024 bytes",
        }


async def test_chunked_body_is_refused_with_413(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 100

    async with exporter.client.get("/-/healthy", data=chunks()) as response:
        assert response.status == 413
        assert (await response.json())["message"] == "chunked request bodies are refused"


async def test_small_body_is_ignored(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/-/healthy", data=b"x" * 10) as response:
        assert response.status == 200


async def test_requests_are_counted_by_route_name_method_and_code(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()

    def count(handler: str, method: str, code: str) -> float:
        value = exporter.registry.get_sample_value(
            "smoke_test_http_requests_total",
            {"handler": handler, "method": method, "code": code},
        )
        return value or 0.0

    await exporter.smoke()
    await exporter.smoke("/health/smoke-test")
    for path in ("/metrics", "/-/healthy", "/-/ready", "/", "/a/b/c", "/x?y"):
        async with exporter.client.get(path):
            pass
    async with exporter.client.post("/metrics"):
        pass
    assert count("smoke_test", "GET", "200") == 1
    assert count("health_smoke_test", "GET", "200") == 1
    assert count("metrics", "GET", "200") == 1
    assert count("healthy", "GET", "200") == 1
    assert count("ready", "GET", "200") == 1
    assert count("index", "GET", "200") == 1
    assert count("other", "GET", "404") == 2
    assert count("other", "POST", "405") == 1
    # Timed: only the routes called in production, each request once.
    durations = {
        sample.labels["handler"]: sample.value
        for metric in exporter.registry.collect()
        for sample in metric.samples
        if sample.name == "smoke_test_http_request_duration_seconds_count"
    }
    assert durations == {"smoke_test": 1, "metrics": 1, "healthy": 1, "ready": 1}


async def test_paths_and_methods_create_no_new_series(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    for n in range(3):
        async with exporter.client.get(f"/random-{n}"):
            pass
        async with exporter.client.request("PUT", f"/-/healthy/{n}"):
            pass
    names = {
        (metric.name, tuple(sorted(sample.labels.items())))
        for metric in exporter.registry.collect()
        for sample in metric.samples
        if metric.name.startswith("smoke_test_http")
    }
    for n in range(3):
        assert not any(f"random-{n}" in str(labels) for _, labels in names)
    assert {(name, labels) for name, labels in names if not labels} == {
        ("smoke_test_http_requests_rejected", ())
    }
    # The timed routes' histograms, made at start-up, and the counter of the requests above.
    assert {dict(labels)["handler"] for _, labels in names if labels} == {
        "smoke_test",
        "metrics",
        "healthy",
        "ready",
        "other",
    }


class GateReason(enum.Enum):
    """A gate check has no way to fail."""


@dataclass(frozen=True)
class GateOptions:
    """``type: gate`` takes no options."""


class Gate:
    """A check that passes once ``open`` is set: it holds a run, and every /smoke-test waiting
    on that run, in flight for as long as a test wants."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()  # the start-up run passes at once

    async def __call__(self, run: RunInfo) -> CheckResult:
        await self.open.wait()
        return CheckResult(Status.OK)


@pytest.fixture
async def gate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[tuple[Gate, Path]]:
    """A gate check type registered by name, and a config file whose only check is one; the
    gate opens at the end, so a failed test does not leave requests hanging."""
    gate = Gate()

    def build(name: str, options: GateOptions, deps: CheckDeps) -> Check:
        return gate

    check_type = CheckType(GateOptions, build, GateReason, "waits for the test")
    monkeypatch.setitem(cast(dict[str, Any], CHECK_TYPES), "gate", check_type)
    config = tmp_path / "gate.yml"
    config.write_text("checks:\n  - {name: gate, type: gate, timeout: 5m}\n", encoding="utf-8")
    yield gate, config
    gate.open.set()


def request_limit(app: web.Application) -> RequestLimit:
    """The app's cap on requests in flight: one of its middlewares."""
    [limit] = [m for m in app.middlewares if isinstance(m, RequestLimit)]
    return limit


def requests(exporter: Exporter, handler: str, code: str) -> float:
    labels = {"handler": handler, "method": "GET", "code": code}
    return exporter.registry.get_sample_value("smoke_test_http_requests_total", labels) or 0.0


async def hold(exporter: Exporter, gate: Gate, count: int) -> list[asyncio.Task[Any]]:
    """``count`` /smoke-test requests, waiting in flight on a shut gate."""
    gate.open.clear()
    held = [asyncio.create_task(exporter.smoke()) for _ in range(count)]
    limit = request_limit(exporter.app)
    await until(lambda: limit.in_flight == count, f"{count} requests in flight")
    return held


async def test_beyond_the_cap_a_request_is_refused_at_once_with_503_retry_after_and_a_count(
    start_exporter: StartExporter, gate: tuple[Gate, Path]
) -> None:
    the_gate, config = gate
    exporter = await start_exporter(config_file=config, max_requests=4)
    assert exporter.sample(REJECTED) == 0
    held = await hold(exporter, the_gate, 4)
    answered = requests(exporter, "smoke_test", "503")

    async with exporter.client.get("/smoke-test", timeout=AT_ONCE) as response:
        assert response.status == 503
        assert response.content_type == "application/json"
        assert response.headers["Retry-After"] == "1"
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.json() == {
            "status": 503,
            "error": "Service Unavailable",
            "message": "4 requests are in flight, the most --web.max-requests allows; retry in 1 s",
        }
    async with exporter.client.get("/smoke-test/history", timeout=AT_ONCE) as response:
        assert response.status == 503  # every route but the reserved ones shares the pool

    assert not any(task.done() for task in held)
    assert exporter.sample(REJECTED) == 2
    # A refusal is an answered request like any other: counted by route with its code.
    assert requests(exporter, "smoke_test", "503") == answered + 1
    assert requests(exporter, "history", "503") == 1
    # Timed when its route is (the held ones are not answered yet); history is only counted.
    assert (
        exporter.sample("smoke_test_http_request_duration_seconds_count", handler="smoke_test") == 1
    )
    assert (
        exporter.registry.get_sample_value(
            "smoke_test_http_request_duration_seconds_count", {"handler": "history"}
        )
        is None
    )
    the_gate.open.set()
    answers = await asyncio.gather(*held)
    assert [(status, body["status"]) for status, body in answers] == [(200, "ok")] * 4
    assert len({body["run_id"] for _, body in answers}) == 1  # they joined one run
    assert request_limit(exporter.app).in_flight == 0
    assert exporter.sample(REJECTED) == 2


async def test_metrics_and_the_probes_answer_while_the_pool_is_full(
    start_exporter: StartExporter, gate: tuple[Gate, Path]
) -> None:
    the_gate, config = gate
    exporter = await start_exporter(config_file=config, max_requests=3)
    held = await hold(exporter, the_gate, 3)
    for path in ("/metrics", "/-/healthy", "/-/ready", "/metrics", "/-/healthy"):
        async with exporter.client.get(path, timeout=AT_ONCE) as response:
            assert response.status == 200, path
    async with exporter.client.get("/smoke-test", timeout=AT_ONCE) as response:
        assert response.status == 503
    assert exporter.sample(REJECTED) == 1
    the_gate.open.set()
    assert {status for status, _ in await asyncio.gather(*held)} == {200}


async def test_zero_max_requests_is_no_limit(
    start_exporter: StartExporter, gate: tuple[Gate, Path]
) -> None:
    the_gate, config = gate
    exporter = await start_exporter(config_file=config, max_requests=0)
    # More than the default cap and all its reserves (40 + 3 * 2).
    held = await hold(exporter, the_gate, 50)
    async with exporter.client.get("/metrics", timeout=AT_ONCE) as response:
        assert response.status == 200
    the_gate.open.set()
    assert [status for status, _ in await asyncio.gather(*held)] == [200] * 50
    assert exporter.sample(REJECTED) == 0
    assert requests(exporter, "smoke_test", "503") == 0


async def test_each_reserved_route_has_its_own_slots_beyond_the_pool(aiohttp_client: Any) -> None:
    registry = CollectorRegistry()
    limit = RequestLimit(1, Counter("rejected", "Refused requests.", registry=registry))
    app = web.Application(middlewares=[limit])
    gates = {name: asyncio.Event() for name in ("smoke_test", *RESERVED_ROUTES)}

    async def wait(request: web.Request) -> web.Response:
        await gates[request.path.removeprefix("/")].wait()
        return web.Response(text="done")

    for name in gates:
        app.router.add_get(f"/{name}", wait, name=name)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)

    async def get(name: str) -> int:
        async with client.get(f"/{name}") as response:
            return response.status

    async def refused(name: str) -> int:
        async with client.get(f"/{name}", timeout=AT_ONCE) as response:
            return response.status

    held = [asyncio.create_task(get("smoke_test"))]
    try:
        await until(lambda: limit.in_flight == 1, "the pool taken")
        taken = dict.fromkeys(RESERVED_ROUTES, 0)
        for name in RESERVED_ROUTES:
            held += [asyncio.create_task(get(name)) for _ in range(RESERVE)]
            taken[name] = RESERVE
            await until(lambda: limit.reserved == taken, f"{name}'s reserve taken")
            # Its reserve full, a third is refused; the next route's reserve is still its own.
            assert await refused(name) == 503
        assert await refused("smoke_test") == 503
        in_flight = limit.in_flight + sum(limit.reserved.values())
        assert in_flight == 1 + len(RESERVED_ROUTES) * RESERVE
        assert registry.get_sample_value("rejected_total") == len(RESERVED_ROUTES) + 1
    finally:
        for event in gates.values():
            event.set()
    assert await asyncio.gather(*held) == [200] * len(held)
    assert (limit.in_flight, set(limit.reserved.values())) == (0, {0})
