"""The smoke test in the "Health Check Response Format for HTTP APIs" (application/health+json)."""

from __future__ import annotations

from typing import Any

from exporter import __version__
from exporter.runner import Answer

MEDIA_TYPE = "application/health+json"


def wants_health_json(accept: str) -> bool:
    """True when the Accept header prefers application/health+json to application/json."""
    weights: dict[str, float] = {}
    for media_range in accept.split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[kind.lower()] = weight
    health = weights.get(MEDIA_TYPE, 0.0)
    return health > 0 and health >= weights.get("application/json", 0.0)


def render(answer: Answer) -> dict[str, Any]:
    """The run as a health+json document: checks keyed ``component:measurement``."""
    result = answer.result
    time = result.started.isoformat()
    checks: dict[str, list[dict[str, Any]]] = {}
    for name, outcome in result.checks.items():
        checks[f"{name}:duration"] = [
            _entry(name, outcome.result.ok, outcome.duration_seconds, time, outcome.result.error)
        ]
        if outcome.result.components:
            checks[f"{name}:delivery"] = [
                _entry(part, c.ok, c.seconds, time, c.error)
                for part, c in outcome.result.components.items()
            ]
    body: dict[str, Any] = {
        "status": "pass" if result.ok else "fail",
        "version": __version__.split(".", 1)[0],
        "releaseId": __version__,
        "serviceId": "smoke-test-exporter",
        "description": "Smoke test: the service is up and its logging reaches every sink",
        "notes": [
            f"run_id {result.run_id}",
            f"trigger {result.trigger.value}",
            f"cached, {answer.age_seconds:.3f}s old" if answer.cached else "fresh",
        ],
        "checks": checks,
    }
    if not result.ok:
        body["output"] = result.cause
    return body


def _entry(
    component: str, ok: bool, seconds: float | None, time: str, error: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "componentId": component,
        "componentType": "component",
        "observedValue": None if seconds is None else round(seconds, 6),
        "observedUnit": "s",
        "status": "pass" if ok else "fail",
        "time": time,
    }
    if not ok:
        entry["output"] = error
    return entry
