"""The OpenAPI operations of the status page and /status.json, and the schema of its figures."""

from __future__ import annotations

from exporter.run.timeline import STRIP_SIZE
from exporter.status.view import CANARY_COUNTS
from exporter.web.operations import Schema, ref, response

STATUSES = ["ok", "warn", "fail"]
TEXT = {"type": "string"}
NULLABLE = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}


def index() -> Schema:
    """GET /."""
    page = response("The page.", {"text/html": {"type": "string"}}, no_store=True)
    page["headers"]["Content-Security-Policy"] = {
        "required": True,
        "description": "No origin but the page's own; its one style and one script by hash.",
        "schema": {"type": "string"},
    }
    return {
        "summary": "The status page: the verdict, each check with its last results and uptime, "
        "the last failures",
        "description": "Rendered on the server and complete without JavaScript; its one "
        "script refreshes it in place from /status.json.",
        "responses": {"200": page},
    }


def status() -> Schema:
    """GET /status.json."""
    return {
        "summary": "Every figure of the status page",
        "responses": {
            "200": response(
                "The verdict, each check in config order, the last failures folded.",
                {"application/json": ref("Status")},
                no_store=True,
            )
        },
    }


def _closed(properties: Schema) -> Schema:
    """An object with exactly these properties, all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def status_schemas() -> dict[str, Schema]:
    """The components of /status.json's body."""
    symbol = {"enum": ["✓", "!", "✗", "…"]}
    check = _closed(
        {
            "name": TEXT,
            "status": {"enum": [*STATUSES, "unknown"], "description": "unknown: not run yet"},
            "symbol": symbol,
            "reason": NULLABLE,
            "error": NULLABLE,
            "target": {**NULLABLE, "description": "what the check looked at: url ..., path ..."},
            "observed": {**NULLABLE, "description": "12 ms, 3.4 GiB free"},
            "cert": {**NULLABLE, "description": "cert expires in 41 days"},
            "strip": {
                "type": "array",
                "maxItems": STRIP_SIZE,
                "description": "The last results, oldest first.",
                "items": _closed({"status": {"enum": STATUSES}, "time": TIME, "reason": NULLABLE}),
            },
            "strip_text": TEXT,
            "uptime": _closed(
                {
                    "runs": COUNT,
                    "passed": COUNT,
                    "percent": {"type": ["number", "null"], "minimum": 0, "maximum": 100},
                    "text": TEXT,
                }
            ),
            "parts": {
                "type": "array",
                "description": "The logging check's sinks and their delivery times.",
                "items": _closed(
                    {
                        "name": TEXT,
                        "status": {"enum": STATUSES},
                        "seconds": {"type": ["number", "null"], "minimum": 0},
                        "text": TEXT,
                    }
                ),
            },
            "canaries": {
                "oneOf": [{"type": "null"}, _closed(dict.fromkeys(CANARY_COUNTS, COUNT))],
                "description": "A store check's canary accounting.",
            },
            "newest_delay": NULLABLE,
        }
    )
    failure = _closed(
        {
            "check": TEXT,
            "reason": NULLABLE,
            "error": NULLABLE,
            "count": {"type": "integer", "minimum": 1},
            "first": TIME,
            "last": TIME,
            "at": TEXT,
            "text": {
                **TEXT,
                "description": "\N{MULTIPLICATION SIGN}10 since 02:25; empty when it failed once",
            },
        }
    )
    status = _closed(
        {
            "status": {"enum": [*STATUSES, "unknown"]},
            "symbol": symbol,
            "verdict": TEXT,
            "message": TEXT,
            "finished": {"oneOf": [{"type": "null"}, TIME]},
            "age": NULLABLE,
            "instance": TEXT,
            "version": TEXT,
            "run_id": NULLABLE,
            "refresh_seconds": {"type": "integer", "minimum": 1},
            "links": {
                "type": "array",
                "items": _closed({"method": TEXT, "path": TEXT, "text": TEXT}),
            },
            "checks": {"type": "array", "items": ref("StatusCheck")},
            "failures": {"type": "array", "items": ref("StatusFailure")},
        }
    )
    return {"Status": status, "StatusCheck": check, "StatusFailure": failure}
