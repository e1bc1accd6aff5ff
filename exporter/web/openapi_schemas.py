"""The component schemas of the OpenAPI document: every answer's body, each check type's entry."""

from __future__ import annotations

from typing import Any

from exporter.checks import CHECK_TYPES, NO_RETRIES
from exporter.checks.base import CheckType
from exporter.run.history import HISTORY_SIZE
from exporter.run.results import Trigger
from exporter.verdict import RetryReason, Status
from exporter.web.operations import Schema, ref


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


def _only_when_not_ok(present: list[str], absent: list[str]) -> Schema:
    """``present`` are there when the status is warn or fail; ``absent`` are not there when
    it is ok (the good status of either format)."""
    good = {"properties": {"status": {"enum": ["ok", "pass"]}}, "required": ["status"]}
    missing = {"not": {"anyOf": [{"required": [name]} for name in absent]}}
    return {"if": good, "then": missing, "else": {"required": present}}


def _with_status(name: str, *statuses: str) -> Schema:
    return {"allOf": [ref(name), {"properties": {"status": {"enum": list(statuses)}}}]}


def check_schema_name(type_name: str) -> str:
    """The component schema of a check type's entry: ``logging`` -> ``LoggingCheck``."""
    return "".join(part.capitalize() for part in type_name.split("_")) + "Check"


def _check_schema(check_type: CheckType[object], seconds: Schema, retries: bool) -> Schema:
    """A check's entry in the answer: the fields every check has, and its type's own; a type
    that takes retries may warn ``retried`` and list its attempts."""
    reasons = list(check_type.reason_values)
    retried: Schema = {}
    if retries:
        reasons.append(RetryReason.RETRIED.value)
        attempt = _closed(
            {
                "status": {"enum": [s.value for s in Status]},
                "reason": {"enum": [*reasons, None]},
                "duration_seconds": seconds,
            },
            description="One attempt of the check in this run.",
        )
        retried = {
            "attempts": {
                "type": "array",
                "minItems": 2,
                "items": attempt,
                "description": "Each attempt, when the check was tried more than once.",
            }
        }
    common: Schema = {
        "status": {"enum": [status.value for status in Status]},
        "duration_seconds": seconds,
        "observed_value": {"type": "number"},
        "observed_unit": {"type": "string"},
        "reason": {"enum": [*reasons, None]},
        "error": {"type": ["string", "null"]},
        "component": ref("Component"),
        "excluded": {
            "const": True,
            "description": "Named by ?exclude=: shown, but it did not decide the status.",
        },
    }
    properties = {**common, **retried, **check_type.detail_schema}
    optional = [name for name in properties if name not in ("status", "duration_seconds")]
    return _closed(
        properties,
        *optional,
        description=check_type.summary,
        **_only_when_not_ok(["reason", "error"], ["reason", "error", "component"]),
    )


def component_schemas(checks: dict[str, str]) -> dict[str, Schema]:
    """The component schemas; ``checks`` maps each configured check to its type."""
    seconds = {"type": "number", "minimum": 0}
    time = {"type": "string", "format": "date-time"}
    run_id = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
    trigger = {"enum": [trigger.value for trigger in Trigger]}
    ok_fail = {"enum": [status.value for status in Status]}
    pass_fail = {"enum": ["pass", "warn", "fail"]}
    nullable = {"type": ["string", "null"]}
    entries = {name: ref(check_schema_name(type_name)) for name, type_name in checks.items()}
    runs = {"type": "array", "maxItems": HISTORY_SIZE}
    per_type: dict[str, Schema] = {
        check_schema_name(name): _check_schema(check_type, seconds, name not in NO_RETRIES)
        for name, check_type in CHECK_TYPES.items()
    }
    per_type["CheckName"] = {"enum": list(checks), "description": "A configured check."}
    return {
        **per_type,
        "Component": _closed(
            {"kind": {"type": "string"}, "id": {"type": "string"}},
            description="The part a check found at fault: a sink, a URL, a path.",
        ),
        "Reloaded": _closed(
            {
                "status": {"const": "ok"},
                "sinks": {"type": "array", "items": {"type": "string"}},
                "checks": {"type": "array", "items": {"type": "string"}},
            }
        ),
        "SmokeTest": _closed(
            {
                "status": ok_fail,
                "message": {"type": "string"},
                "timestamp": time,
                "run_id": run_id,
                "trigger": trigger,
                "duration_seconds": seconds,
                "checks": _closed(entries),
                "cached": {"type": "boolean"},
                "age_seconds": seconds,
            }
        ),
        "SmokeTestPassed": _with_status("SmokeTest", "ok", "warn"),
        "SmokeTestFailed": _with_status("SmokeTest", "fail"),
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
                    "additionalProperties": {"type": "array", "items": ref("HealthCheck")},
                },
                "output": {"type": "string"},
            },
            "output",
            **_only_when_failed("output"),
        ),
        "HealthPassed": _with_status("Health", "pass", "warn"),
        "HealthFailed": _with_status("Health", "fail"),
        "HealthCheck": _closed(
            {
                "componentId": {"type": "string"},
                "componentType": {
                    "type": "string",
                    "description": "component, or the kind of what the check looked at: "
                    "url, address, path",
                },
                "observedValue": {"type": ["number", "null"], "minimum": 0},
                "observedUnit": {"type": "string", "description": "s, or bytes"},
                "status": pass_fail,
                "time": time,
                "output": nullable,
            },
            "output",
            **_only_when_not_ok(["output"], ["output"]),
        ),
        "HistoryEntry": _closed(
            {
                "time": time,
                "trigger": trigger,
                "status": ok_fail,
                "duration_seconds": seconds,
                "run_id": run_id,
                "cause": nullable,
                "checks": {
                    "type": "object",
                    "description": "Each check's status, and its reason and error when it "
                    "is not ok.",
                    "additionalProperties": _closed(
                        {"status": ok_fail, "reason": {"type": "string"}, "error": nullable},
                        "reason",
                        "error",
                    ),
                },
            },
            **_when_failed(
                {"properties": {"cause": {"type": "string"}}},
                {"properties": {"cause": {"type": "null"}}},
            ),
        ),
        "History": _closed(
            {
                "runs": {**runs, "items": ref("HistoryEntry")},
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
    }
