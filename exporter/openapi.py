"""The OpenAPI 3.1 document of every endpoint, built from the app's real routes, and its handler."""

from __future__ import annotations

import json
import weakref
from typing import Any

from aiohttp import web

from exporter import __version__
from exporter.checks import CHECKS
from exporter.health_json import MEDIA_TYPE as HEALTH_JSON
from exporter.history import HISTORY_SIZE
from exporter.middleware import MAX_BODY_BYTES
from exporter.runner import Trigger
from exporter.sinks import Reason

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
# Built at an app's first request for it and kept while the app lives: routes are fixed by then.
_DOCUMENTS: weakref.WeakKeyDictionary[web.Application, bytes] = weakref.WeakKeyDictionary()


async def openapi_json(request: web.Request) -> web.Response:
    """This exporter's OpenAPI 3.1 document."""
    body = _DOCUMENTS.get(request.app)
    if body is None:
        body = _DOCUMENTS[request.app] = json.dumps(build_document(request.app)).encode()
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def build_document(app: web.Application) -> Schema:
    """Every GET and HEAD route of ``app``, described by its route name."""
    operations = _operations()
    paths: dict[str, Schema] = {}
    for route in app.router.routes():
        name, method = route.name, route.method.lower()
        known = name in operations and method in {"get", "head"}
        if name is None or route.resource is None or not known:
            raise LookupError(f"route {route.method} {route.resource} has no OpenAPI description")
        get = operations[name]
        operation = get if method == "get" else _as_head(get)
        path = paths.setdefault(route.resource.canonical, {})
        too_large = {"413": _ref("PayloadTooLarge", "responses")}
        responses = {**operation["responses"], **too_large}
        path[method] = {"operationId": f"{method}_{name}", **operation, "responses": responses}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "smoke-test-exporter",
            "version": __version__,
            "description": "Proves that a service is up and that its logging reaches every sink. "
            "Every endpoint answers GET and HEAD; any other method gets 405 (MethodNotAllowed) "
            "and an unknown path 404 (NotFound), both with the Error body.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "headers": {
                "NoStore": {"required": True, "schema": {"const": "no-store"}},
                "Allow": {"required": True, "schema": {"type": "string"}},
            },
            "responses": {
                "NotFound": _error("No endpoint at this path."),
                "MethodNotAllowed": _error(
                    "The path does not take this method.",
                    headers={"Allow": _ref("Allow", "headers")},
                ),
                "PayloadTooLarge": _error(
                    f"A request body of more than {MAX_BODY_BYTES} bytes, or any chunked one: "
                    "no endpoint takes a body, and none is read."
                ),
            },
        },
    }


def _operations() -> dict[str, Schema]:
    """The GET operation of each route, by route name."""
    json_run = {
        str(status): _response(
            f"The smoke test {verdict}.",
            {
                "application/json": _ref(f"SmokeTest{verdict.capitalize()}"),
                HEALTH_JSON: _ref(f"Health{verdict.capitalize()}"),
            },
            no_store=True,
        )
        for status, verdict in ((200, "passed"), (503, "failed"))
    }
    smoke_test: Schema = {
        "summary": "Run the smoke test, join the run in flight, or get the latest result",
        "description": "Within --smoke-test.min-interval of the last run, that run's result "
        "marked cached. application/health+json when the Accept header prefers it.",
        "responses": json_run,
    }
    text = {"text/plain": {"type": "string"}}
    return {
        "index": {
            "summary": "A small HTML page: version, links, the last runs and failures",
            "responses": {
                "200": _response("The page.", {"text/html": {"type": "string"}}, no_store=True)
            },
        },
        "smoke_test": smoke_test,
        "health_smoke_test": {**smoke_test, "summary": "/smoke-test at the original design's path"},
        "history": {
            "summary": f"The last {HISTORY_SIZE} runs and the last {HISTORY_SIZE} failures",
            "responses": {
                "200": _response(
                    "Newest first.", {"application/json": _ref("History")}, no_store=True
                )
            },
        },
        "metrics": {
            "summary": "Prometheus metrics; scraping does not run the smoke test",
            "parameters": [
                {
                    "name": "name[]",
                    "in": "query",
                    "description": "Only these metric families.",
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "style": "form",
                    "explode": True,
                }
            ],
            "responses": {
                "200": _response(
                    "Prometheus text format, or OpenMetrics when the Accept header asks for it.",
                    {
                        "text/plain": {"type": "string"},
                        "application/openmetrics-text": {"type": "string"},
                    },
                )
            },
        },
        "healthy": {
            "summary": "Liveness: the process answers; runs no check",
            "responses": {"200": _response("Healthy.", text, no_store=True)},
        },
        "ready": {
            "summary": "Readiness: 200 once the start-up run has finished, whatever its result",
            "responses": {
                "200": _response("Ready.", text, no_store=True),
                "503": _response("The start-up run has not finished.", text, no_store=True),
            },
        },
        "openapi": {
            "summary": "This document",
            "responses": {"200": _response("OpenAPI 3.1.", {"application/json": _ref("OpenApi")})},
        },
    }


def _ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _response(description: str, content: dict[str, Schema], *, no_store: bool = False) -> Schema:
    response: Schema = {
        "description": description,
        "content": {media: {"schema": schema} for media, schema in content.items()},
    }
    if no_store:
        response["headers"] = {"Cache-Control": _ref("NoStore", "headers")}
    return response


def _error(description: str, headers: Schema | None = None) -> Schema:
    response = _response(description, {"application/json": _ref("Error")})
    return {**response, "headers": headers} if headers else response


def _as_head(get: Schema) -> Schema:
    """HEAD answers as GET does, headers and all, without a body."""
    responses = {
        status: {key: value for key, value in response.items() if key != "content"}
        for status, response in get["responses"].items()
    }
    return {**get, "responses": responses}


def _closed(properties: Schema, *optional: str, **extra: Any) -> Schema:
    """An object with exactly these properties: all but ``optional`` required, no others."""
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **extra,
    }


def _when_failed(then: Schema, otherwise: Schema) -> Schema:
    """``then`` applies to a failed result (status fail), ``otherwise`` to a passing one."""
    failed = {"properties": {"status": {"const": "fail"}}, "required": ["status"]}
    return {"if": failed, "then": then, "else": otherwise}


def _only_when_failed(*names: str) -> Schema:
    """``names`` are present when the status is fail, and absent otherwise."""
    absent = {"not": {"anyOf": [{"required": [name]} for name in names]}}
    return _when_failed({"required": list(names)}, absent)


def _with_status(name: str, status: str) -> Schema:
    return {"allOf": [_ref(name), {"properties": {"status": {"const": status}}}]}


def _schemas() -> dict[str, Schema]:
    seconds = {"type": "number", "minimum": 0}
    time = {"type": "string", "format": "date-time"}
    run_id = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
    trigger = {"enum": [trigger.value for trigger in Trigger]}
    ok_fail = {"enum": ["ok", "fail"]}
    pass_fail = {"enum": ["pass", "fail"]}
    nullable = {"type": ["string", "null"]}
    check = {"status": ok_fail, "duration_seconds": seconds, "error": nullable}
    checks = {name: _ref("LoggingCheck" if name == "logging" else "Check") for name in CHECKS}
    runs = {"type": "array", "maxItems": HISTORY_SIZE}
    return {
        "SmokeTest": _closed(
            {
                "status": ok_fail,
                "message": {"type": "string"},
                "timestamp": time,
                "run_id": run_id,
                "trigger": trigger,
                "duration_seconds": seconds,
                "checks": _closed(checks),
                "cached": {"type": "boolean"},
                "age_seconds": seconds,
            }
        ),
        "SmokeTestPassed": _with_status("SmokeTest", "ok"),
        "SmokeTestFailed": _with_status("SmokeTest", "fail"),
        "Check": {
            "type": "object",
            "description": "A check's verdict; a check may add details of its own.",
            "properties": check,
            "required": ["status", "duration_seconds"],
            **_only_when_failed("error"),
        },
        "LoggingCheck": _closed(
            {
                **check,
                "sinks": {"type": "object", "additionalProperties": ok_fail},
                "failed_sink": {"type": "string"},
                "reason": {"enum": [reason.value for reason in Reason]},
            },
            "error",
            "failed_sink",
            "reason",
            **_only_when_failed("error", "failed_sink", "reason"),
        ),
        "Health": _closed(
            {
                "status": pass_fail,
                "version": {"type": "string"},
                "releaseId": {"type": "string"},
                "serviceId": {"const": "smoke-test-exporter"},
                "description": {"type": "string"},
                "notes": {"type": "array", "items": {"type": "string"}},
                "checks": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": _ref("HealthCheck")},
                },
                "output": {"type": "string"},
            },
            "output",
            **_only_when_failed("output"),
        ),
        "HealthPassed": _with_status("Health", "pass"),
        "HealthFailed": _with_status("Health", "fail"),
        "HealthCheck": _closed(
            {
                "componentId": {"type": "string"},
                "componentType": {"const": "component"},
                "observedValue": {"type": ["number", "null"], "minimum": 0},
                "observedUnit": {"const": "s"},
                "status": pass_fail,
                "time": time,
                "output": nullable,
            },
            "output",
            **_only_when_failed("output"),
        ),
        "HistoryEntry": _closed(
            {
                "time": time,
                "trigger": trigger,
                "status": ok_fail,
                "duration_seconds": seconds,
                "run_id": run_id,
                "cause": nullable,
            },
            **_when_failed(
                {"properties": {"cause": {"type": "string"}}},
                {"properties": {"cause": {"type": "null"}}},
            ),
        ),
        "History": _closed(
            {
                "runs": {**runs, "items": _ref("HistoryEntry")},
                "failures": {**runs, "items": _with_status("HistoryEntry", "fail")},
            }
        ),
        "Error": _closed(
            {
                "status": {"type": "integer"},
                "error": {"type": "string"},
                "message": {"type": "string"},
            }
        ),
        "OpenApi": {
            "type": "object",
            "properties": {"openapi": {"const": OPENAPI_VERSION}},
            "required": ["openapi", "info", "paths"],
        },
    }
