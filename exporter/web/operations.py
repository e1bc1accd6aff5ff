"""The OpenAPI operation of each endpoint: what it answers, by status and media type."""

from __future__ import annotations

from typing import Any

from exporter.run.history import HISTORY_SIZE
from exporter.web.health_json import MEDIA_TYPE as HEALTH_JSON

Schema = dict[str, Any]
TEXT = {"text/plain": {"type": "string"}}


def ref(name: str, kind: str = "schemas") -> Schema:
    """A $ref to a component of the document."""
    return {"$ref": f"#/components/{kind}/{name}"}


def response(description: str, content: dict[str, Schema], *, no_store: bool = False) -> Schema:
    """A response object: its media types and their schemas."""
    answer: Schema = {
        "description": description,
        "content": {media: {"schema": schema} for media, schema in content.items()},
    }
    if no_store:
        answer["headers"] = {"Cache-Control": ref("NoStore", "headers")}
    return answer


def error(description: str, headers: Schema | None = None) -> Schema:
    """A response carrying the Error body."""
    answer = response(description, {"application/json": ref("Error")})
    return {**answer, "headers": headers} if headers else answer


def smoke_test() -> Schema:
    """GET /smoke-test."""
    json_run = {
        str(status): response(
            f"The smoke test {verdict}.",
            {
                "application/json": ref(f"SmokeTest{verdict.capitalize()}"),
                HEALTH_JSON: ref(f"Health{verdict.capitalize()}"),
            },
            no_store=True,
        )
        for status, verdict in ((200, "passed"), (503, "failed"))
    }
    return {
        "summary": "Run the smoke test, join the run in flight, or get the latest result",
        "description": "Within --smoke-test.min-interval of the last run, that run's result "
        "marked cached. 200 when no check failed (a warning passes), 503 when one did. "
        "application/health+json when the Accept header prefers it.",
        "parameters": [
            {
                "name": "exclude",
                "in": "query",
                "description": "A check that still runs and is shown, marked excluded, but "
                "does not decide the status. Repeatable.",
                "schema": {"type": "array", "items": ref("CheckName")},
                "style": "form",
                "explode": True,
            }
        ],
        "responses": {**json_run, "400": error("exclude names a check that is not configured.")},
    }


def health_smoke_test() -> Schema:
    """GET /health/smoke-test."""
    return {**smoke_test(), "summary": "/smoke-test at the original design's path"}


def index() -> Schema:
    """GET /."""
    return {
        "summary": "A small HTML page: version, links, the last runs and failures",
        "responses": {
            "200": response("The page.", {"text/html": {"type": "string"}}, no_store=True)
        },
    }


def history() -> Schema:
    """GET /smoke-test/history."""
    return {
        "summary": f"The last {HISTORY_SIZE} runs and the last {HISTORY_SIZE} failures",
        "responses": {
            "200": response("Newest first.", {"application/json": ref("History")}, no_store=True)
        },
    }


def metrics() -> Schema:
    """GET of the telemetry path."""
    return {
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
            "200": response(
                "Prometheus text format, or OpenMetrics when the Accept header asks for it.",
                {
                    "text/plain": {"type": "string"},
                    "application/openmetrics-text": {"type": "string"},
                },
            )
        },
    }


def healthy() -> Schema:
    """GET /-/healthy."""
    return {
        "summary": "Liveness: the process answers; runs no check",
        "responses": {"200": response("Healthy.", TEXT, no_store=True)},
    }


def ready() -> Schema:
    """GET /-/ready."""
    return {
        "summary": "Readiness: 200 once the start-up run has finished, whatever its result",
        "parameters": [
            {
                "name": "verbose",
                "in": "query",
                "description": "List the last run's checks first, one a line: [+]name ok, "
                "[+]name warn: reason, [-]name failed: reason.",
                "allowEmptyValue": True,
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": response("Ready.", TEXT, no_store=True),
            "503": response("The start-up run has not finished.", TEXT, no_store=True),
        },
    }


def reload() -> Schema:
    """POST /-/reload."""
    return {
        "summary": "Reload --config.file (as SIGHUP does); the running config stays on error",
        "description": "A good file replaces the checks and sinks between runs. Without "
        "--config.file there is nothing to read, and the flags' plan is kept.",
        "responses": {
            "200": response("Reloaded.", {"application/json": ref("Reloaded")}, no_store=True),
            "400": error("The file cannot be used; the running configuration stays."),
        },
    }


def openapi() -> Schema:
    """GET /openapi.json."""
    return {
        "summary": "This document",
        "responses": {"200": response("OpenAPI 3.1.", {"application/json": ref("OpenApi")})},
    }
