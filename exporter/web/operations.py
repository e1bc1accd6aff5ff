"""The OpenAPI operation of each endpoint, what it answers by status and media type, and the
answers every endpoint shares: the errors of the web layer."""

from __future__ import annotations

from typing import Any

from exporter.run.history import HISTORY_SIZE
from exporter.web.health_json import MEDIA_TYPE as HEALTH_JSON
from exporter.web.limit import RETRY_AFTER_SECONDS
from exporter.web.middleware import MAX_BODY_BYTES

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


def shared_headers() -> dict[str, Schema]:
    """The header components."""
    retry_after = {"schema": {"const": str(RETRY_AFTER_SECONDS)}}
    return {
        "NoStore": {"required": True, "schema": {"const": "no-store"}},
        "Allow": {"required": True, "schema": {"type": "string"}},
        "RetryAfter": {"required": True, **retry_after},
        "RetryAfterIfRefused": {
            "required": False,
            "description": "Only on a refusal: too many requests were in flight.",
            **retry_after,
        },
    }


def shared_responses() -> dict[str, Schema]:
    """The response components: the errors any endpoint may answer."""
    return {
        "NotFound": error("No endpoint at this path."),
        "MethodNotAllowed": error(
            "The path does not take this method.", headers={"Allow": ref("Allow", "headers")}
        ),
        "PayloadTooLarge": error(
            f"A request body of more than {MAX_BODY_BYTES} bytes, or any chunked one: "
            "no endpoint takes a body, and none is read."
        ),
        "Refused": error(
            "--web.max-requests requests were in flight: refused at once; try again after "
            "Retry-After seconds. /metrics and the probes have a few slots of their own beyond.",
            headers={
                "Retry-After": ref("RetryAfter", "headers"),
                "Cache-Control": ref("NoStore", "headers"),
            },
        ),
    }


def with_refusals(operation: Schema) -> Schema:
    """``operation`` with the answers any request may get before its handler: 413 for a body,
    503 when too many requests are in flight (merged into the operation's own 503)."""
    responses = {**operation["responses"], "413": ref("PayloadTooLarge", "responses")}
    own = responses.get("503")
    if own is None:
        responses["503"] = ref("Refused", "responses")
    else:
        # One status has one response object: the Error body is the JSON alternative (its
        # closed schema and the others' never match the same body), Retry-After comes with it.
        content = dict(own["content"])
        json = content.get("application/json", {}).get("schema")
        either = ref("Error") if json is None else {"oneOf": [json, ref("Error")]}
        content["application/json"] = {"schema": either}
        responses["503"] = {
            **own,
            "description": f"{own['description']} Or, with Retry-After and the Error body: "
            "refused, as too many requests were in flight.",
            "headers": {
                **own.get("headers", {}),
                "Retry-After": ref("RetryAfterIfRefused", "headers"),
            },
            "content": content,
        }
    return {**operation, "responses": responses}


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
                "Prometheus text format, or OpenMetrics when the Accept header asks for it "
                "and --web.openmetrics is true.",
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
        "--config.file there is nothing to read: 400, and the flags' plan is kept.",
        "responses": {
            "200": response("Reloaded.", {"application/json": ref("Reloaded")}, no_store=True),
            "400": error(
                "The file cannot be used, or there is no --config.file; the running "
                "configuration stays."
            ),
        },
    }


def openapi() -> Schema:
    """GET /openapi.json."""
    return {
        "summary": "This document",
        "responses": {"200": response("OpenAPI 3.1.", {"application/json": ref("OpenApi")})},
    }
