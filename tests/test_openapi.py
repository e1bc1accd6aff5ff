"""The OpenAPI document: valid 3.1, exactly the real routes, and every real answer conforms."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from jsonschema import ValidationError
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from prometheus_client import CollectorRegistry
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from exporter.app import create_app
from exporter.config import Settings
from exporter.web import openapi
from exporter.web.limit import RESERVE, RequestLimit
from exporter.web.openapi import build_document
from exporter.web.operations import ref
from exporter.web.routes import route_table
from tests.conftest import StartExporter
from tests.integration.exporter_process import ExporterProcess, open_output
from tests.pipes import stuck_pipe
from tests.support.openapi_spec import Spec, answer, fetch_spec, operation, pointer

PATHS = {
    "/",
    "/smoke-test",
    "/health/smoke-test",
    "/smoke-test/history",
    "/status.json",
    "/metrics",
    "/-/healthy",
    "/-/ready",
    "/-/reload",
    "/openapi.json",
}
# Every path answers GET and HEAD but these.
POST_ONLY = {"/-/reload"}
GET_PATHS = PATHS - POST_ONLY


async def test_served_document_is_valid_openapi_3_1(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    spec = await fetch_spec(exporter)
    assert spec.document["openapi"] == "3.1.0"
    validate(spec.document, cls=OpenAPIV31SpecValidator)
    assert spec.document == build_document(exporter.app)


def test_validator_rejects_a_broken_document() -> None:
    document = build_document(create_app(Settings(), CollectorRegistry()))
    document["paths"]["/smoke-test"]["get"]["responses"]["200"].pop("description")
    with pytest.raises(Exception, match='"description" is a required property'):
        validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize("telemetry_path", ["/metrics", "/custom/metrics"])
def test_paths_and_methods_are_exactly_the_real_routes(telemetry_path: str) -> None:
    settings = Settings(telemetry_path=telemetry_path)
    registry = CollectorRegistry()
    app = create_app(settings, registry)
    document = build_document(app)
    expected = PATHS - {"/metrics"} | {telemetry_path}
    assert {route.path for route in route_table(telemetry_path)} == expected
    assert set(document["paths"]) == expected
    served: dict[str, set[str]] = {}
    for route in app.router.routes():
        assert route.resource is not None
        served.setdefault(route.resource.canonical, set()).add(route.method)
    assert served == {path: {"POST"} if path in POST_ONLY else {"GET", "HEAD"} for path in expected}
    for path, methods in document["paths"].items():
        assert set(methods) == ({"post"} if path in POST_ONLY else {"get", "head"}), path
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)) == 2 * len(expected) - len(POST_ONLY)


async def test_document_is_built_once_per_app(
    start_exporter: StartExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[web.Application] = []

    def counting(app: web.Application) -> dict[str, Any]:
        built.append(app)
        return build_document(app)

    monkeypatch.setattr(openapi, "build_document", counting)
    first = await start_exporter()
    other = await start_exporter(telemetry_path="/other-metrics")
    bodies = [(await answer(e, "GET", "/openapi.json"))[2] for e in (first, first, other, other)]
    assert built == [first.app, other.app]
    assert bodies[0] == bodies[1]
    assert bodies[2] == bodies[3]
    assert set(json.loads(bodies[0])["paths"]) == PATHS
    assert set(json.loads(bodies[2])["paths"]) == PATHS - {"/metrics"} | {"/other-metrics"}


async def test_passing_answers_of_every_endpoint_match_the_document(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "smoke-test.yml"  # a file to reload
    config.write_text("checks:\n  - {name: logging, type: logging}\n")
    # both formats of /metrics
    exporter = await start_exporter(openmetrics=True, config_file=config)
    spec = await fetch_spec(exporter)
    for path in GET_PATHS:
        for method in ("GET", "HEAD"):
            status, headers, body = await answer(exporter, method, path)
            assert status == 200, (method, path)
            spec.check(operation(path, method.lower(), 200), headers, body, head=method == "HEAD")
    status, headers, body = await answer(exporter, "POST", "/-/reload")
    assert status == 200
    spec.check(operation("/-/reload", "post", 200), headers, body)
    health = {"Accept": "application/health+json"}
    for path in ("/smoke-test", "/health/smoke-test"):
        status, headers, body = await answer(exporter, "GET", path, headers=health)
        assert (status, headers["Content-Type"]) == (200, "application/health+json; charset=utf-8")
        spec.check(operation(path, "get", 200), headers, body)
    openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
    status, headers, body = await answer(exporter, "GET", "/metrics", headers=openmetrics)
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text;")
    spec.check(operation("/metrics", "get", 200), headers, body)


async def test_error_answers_match_the_documented_error_responses(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    spec = await fetch_spec(exporter)
    responses = pointer("components", "responses")
    status, headers, body = await answer(exporter, "GET", "/no-such-path")
    assert status == 404
    spec.check(f"{responses}/NotFound", headers, body)
    status, headers, body = await answer(exporter, "POST", "/smoke-test")
    assert status == 405
    spec.check(f"{responses}/MethodNotAllowed", headers, body)
    for path in GET_PATHS:
        status, headers, body = await answer(exporter, "GET", path, data=b"x" * 2048)
        assert status == 413, path
        spec.check(operation(path, "get", 413), headers, body)
    status, headers, body = await answer(exporter, "POST", "/-/reload", data=b"x" * 2048)
    assert status == 413
    spec.check(operation("/-/reload", "post", 413), headers, body)


async def test_failing_answers_match_the_document_and_the_schemas_tell_them_apart(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter()
    spec = await fetch_spec(exporter)
    # The document's access line is written after the answer: let it land before the file
    # goes, or the sink would create the file again.
    await exporter.until_line(exporter.file_lines, lambda line: line.get("path") == "/openapi.json")
    log_path.unlink()
    log_path.mkdir()  # the file sink cannot open its path any more
    health = {"Accept": "application/health+json"}
    for path in ("/smoke-test", "/health/smoke-test"):
        for request_headers in ({}, health):
            status, headers, body = await answer(exporter, "GET", path, headers=request_headers)
            assert status == 503
            spec.check(operation(path, "get", 503), headers, body)
            # The passing answer's schema refuses a failed run: the two are not interchangeable.
            media = headers["Content-Type"].split(";", 1)[0]
            passed = pointer("paths", path, "get", "responses", "200", "content", media, "schema")
            with pytest.raises(ValidationError):
                spec.validator(passed).validate(json.loads(body))
        status, headers, body = await answer(exporter, "HEAD", path)
        assert (status, body) == (503, b"")
        spec.check(operation(path, "head", 503), headers, body, head=True)
    status, headers, body = await answer(exporter, "GET", "/smoke-test/history")
    assert status == 200
    history = json.loads(body)
    assert [run["status"] for run in history["runs"]] == ["fail"] * 6 + ["ok"]
    assert len(history["failures"]) == 6
    spec.check(operation("/smoke-test/history", "get", 200), headers, body)


async def test_refusals_of_every_operation_match_the_document(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter()
    spec = await fetch_spec(exporter)
    # The pool and every reserve taken, as a flood takes them. The reserved routes answer
    # without waiting, so no real request could hold their slots (test_middleware holds real
    # requests in the pool).
    [limit] = [m for m in exporter.app.middlewares if isinstance(m, RequestLimit)]
    limit.in_flight = limit.max_requests
    limit.reserved = dict.fromkeys(limit.reserved, RESERVE)
    for path in GET_PATHS:
        for method in ("GET", "HEAD"):
            status, headers, body = await answer(exporter, method, path)
            assert (status, headers["Retry-After"]) == (503, "1"), (method, path)
            spec.check(operation(path, method.lower(), 503), headers, body, head=method == "HEAD")
    status, headers, body = await answer(exporter, "POST", "/-/reload")
    assert (status, headers["Retry-After"]) == (503, "1")
    spec.check(operation("/-/reload", "post", 503), headers, body)
    spec.check(pointer("components", "responses", "Refused"), headers, body)
    # Where a failed run is a 503 too, the refusal's body is the Error, not the failed run.
    status, headers, body = await answer(exporter, "GET", "/smoke-test")
    failed = operation("/smoke-test", "get", 503) + pointer("content", "application/json")
    [as_run, as_error] = spec.resolve(failed)[1]["schema"]["oneOf"]
    assert spec.validator(failed + "/schema/oneOf/1").is_valid(json.loads(body))
    assert not spec.validator(failed + "/schema/oneOf/0").is_valid(json.loads(body))
    assert (as_run, as_error) == ({"$ref": "#/components/schemas/SmokeTestFailed"}, ref("Error"))
    limit.in_flight, limit.reserved = 0, dict.fromkeys(limit.reserved, 0)


def test_the_only_optional_header_is_retry_after_on_a_503_of_its_own() -> None:
    spec = Spec(build_document(create_app(Settings(), CollectorRegistry())))
    optional = set()
    for path, methods in spec.document["paths"].items():
        for method, described in methods.items():
            for status in described["responses"]:
                at, response = spec.resolve(operation(path, method, int(status)))
                for name in response.get("headers", {}):
                    if not spec.resolve(at + pointer("headers", name))[1]["required"]:
                        optional.add((path, method, status, name))
    # The paths whose handler answers 503 itself: a failed run, not ready yet.
    own = ("/smoke-test", "/health/smoke-test", "/-/ready")
    assert optional == {(path, m, "503", "Retry-After") for path in own for m in ("get", "head")}


async def test_not_ready_answer_matches_the_document(start_exporter: StartExporter) -> None:
    with stuck_pipe() as pipe:
        # stdout cannot take the canary, so the start-up run lasts the whole timeout.
        exporter = await start_exporter(
            stdout_fd=pipe.write_fd, wait_ready=False, timeout_seconds=1.0
        )
        spec = await fetch_spec(exporter)
        status, headers, body = await answer(exporter, "GET", "/-/ready")
        assert status == 503
        spec.check(operation("/-/ready", "get", 503), headers, body)
        pipe.drain()
        await exporter.client.close()


@pytest.fixture(scope="module")
def exporter_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """The console script, serving on loopback for the fuzzer."""
    tmp = tmp_path_factory.mktemp("fuzz")
    stdout = open_output(tmp / "stdout.log")
    config = tmp / "smoke-test.yml"  # a file to reload
    config.write_text("checks:\n  - {name: logging, type: logging}\n")
    process = ExporterProcess(
        [
            f"--log.file={tmp / 'exporter.log'}",
            "--smoke-test.interval=0",
            f"--config.file={config}",
        ],
        announce=tmp / "stdout.log",
        stdout=stdout,
        stderr=tmp / "stderr.log",
    )
    try:
        yield process
        assert process.stop() == 0
        assert process.stderr == ""
    finally:
        process.kill()
        os.close(stdout)


def test_fuzzed_requests_get_no_5xx_and_every_answer_matches_the_document(
    exporter_process: ExporterProcess,
) -> None:
    config = schemathesis.Config.from_dict({"seed": 4, "generation": {"deterministic": True}})
    served = exporter_process.get("/openapi.json")
    assert served.status == 200
    # from_dict, not from_url: from_url leaves out the operation that served the document.
    api = schemathesis.openapi.from_dict(served.json(), config=config)
    operations = [result.ok() for result in api.get_all_operations() if isinstance(result, Ok)]
    assert sorted(op.label for op in operations) == sorted(
        [f"{method} {path}" for path in GET_PATHS for method in ("GET", "HEAD")]
        + [f"POST {path}" for path in POST_ONLY]
    )
    sent: list[str] = []
    for operation in operations:  # noqa: F402 (a schemathesis operation, in this loop only)
        # Invalid data needs a parameter to be invalid in: only the metrics path takes one.
        negative = [GenerationMode.NEGATIVE] if operation.path == "/metrics" else []
        for mode in [GenerationMode.POSITIVE, *negative]:

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=10,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case[Any]) -> None:
                response = case.call_and_validate(base_url=exporter_process.url, timeout=10)
                assert response.status_code == 200
                sent.append(f"{case.method} {case.path}")

            fuzz()
    assert set(sent) == {operation.label for operation in operations}
