"""The OpenAPI 3.1 document of every endpoint, built from the app's real routes, and its handler."""

from __future__ import annotations

import json
import weakref

from aiohttp import web

from exporter import __version__
from exporter.web.keys import RELOADER, ROUTES
from exporter.web.openapi_schemas import component_schemas
from exporter.web.openapi_status import status_schemas
from exporter.web.operations import Schema, shared_headers, shared_responses, with_refusals

OPENAPI_VERSION = "3.1.0"
# Built at an app's first request for it and kept until a reload changes its checks.
_DOCUMENTS: weakref.WeakKeyDictionary[web.Application, bytes] = weakref.WeakKeyDictionary()


async def openapi_json(request: web.Request) -> web.Response:
    """This exporter's OpenAPI 3.1 document."""
    body = _DOCUMENTS.get(request.app)
    if body is None:
        body = _DOCUMENTS[request.app] = json.dumps(build_document(request.app)).encode()
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def forget_document(app: web.Application) -> None:
    """Build the document anew at the next request: the checks have changed."""
    _DOCUMENTS.pop(app, None)


def build_document(app: web.Application) -> Schema:
    """Every route of ``app``'s table (GET ones with their HEAD), described by route name."""
    paths: dict[str, Schema] = {}
    for route in app[ROUTES]:
        main = with_refusals(route.operation())
        operations = {route.method.lower(): main}
        if route.method == "GET":
            operations["head"] = _as_head(main)
        path = paths.setdefault(route.path, {})
        for method, operation in operations.items():
            path[method] = {"operationId": f"{method}_{route.name}", **operation}
    checks = {spec.name: spec.type for spec in app[RELOADER].live.plan.checks}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "smoke-test-exporter",
            "version": __version__,
            "description": "Proves that a service is up and that its logging reaches every sink. "
            "Every endpoint answers GET and HEAD but /-/reload, which takes POST; any other "
            "method gets 405 (MethodNotAllowed) and an unknown path 404 (NotFound), both with "
            "the Error body. Any endpoint answers 503 with Retry-After and the Error body "
            "while --web.max-requests requests are in flight.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **component_schemas(checks),
                **status_schemas(),
                "OpenApi": _document_schema(),
            },
            "headers": shared_headers(),
            "responses": shared_responses(),
        },
    }


def _as_head(get: Schema) -> Schema:
    """HEAD answers as GET does, headers and all, without a body."""
    responses = {
        status: {key: value for key, value in response.items() if key != "content"}
        for status, response in get["responses"].items()
    }
    return {**get, "responses": responses}


def _document_schema() -> Schema:
    """The schema of this document itself, the answer of its own endpoint."""
    return {
        "type": "object",
        "properties": {"openapi": {"const": OPENAPI_VERSION}},
        "required": ["openapi", "info", "paths"],
    }
