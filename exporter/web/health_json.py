"""The smoke test in the "Health Check Response Format for HTTP APIs" (application/health+json)."""

from __future__ import annotations

from typing import Any

from exporter import __version__
from exporter.run.results import Answer
from exporter.verdict import Status

MEDIA_TYPE = "application/health+json"
# The draft's status words for ours.
HEALTH_STATUS = {Status.OK: "pass", Status.WARN: "warn", Status.FAIL: "fail"}
# The measurement name of an observed value, by its unit: an http check's latency and a tcp
# check's connect time are response times; a disk check's free bytes are free space.
MEASUREMENTS = {"s": "responseTime", "bytes": "freeSpace"}


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
    """The run as a health+json document: checks keyed ``component:measurement``. Each check
    has its ``duration``, and a check that observes a value also has it (``responseTime``,
    ``freeSpace``), both on the component it looked at (the URL, address or path) when it has
    one; a check with parts lists them (the logging check's ``delivery`` per sink)."""
    result = answer.result
    time = result.started.isoformat()
    checks: dict[str, list[dict[str, Any]]] = {}
    for name, outcome in result.checks.items():
        r = outcome.result
        # The thing the check looked at (its URL, address or path), else the check itself:
        # a failing check says where it failed.
        component = r.component.id if r.component is not None else name
        kind = r.component.kind if r.component is not None else "component"
        checks[f"{name}:duration"] = [
            _entry(component, r.status, outcome.duration_seconds, time, r.error, kind=kind)
        ]
        if r.observed is not None:
            measurement = MEASUREMENTS.get(r.observed.unit, "observedValue")
            entry = _entry(component, r.status, r.observed.value, time, r.error, kind=kind)
            checks[f"{name}:{measurement}"] = [{**entry, "observedUnit": r.observed.unit}]
        if r.parts:
            checks[f"{name}:{r.measurement}"] = [
                _entry(part, p.status, p.seconds, time, p.error) for part, p in r.parts.items()
            ]
    body: dict[str, Any] = {
        "status": HEALTH_STATUS[result.status],
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
    component: str,
    status: Status,
    seconds: float | None,
    time: str,
    error: str | None,
    *,
    kind: str = "component",
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "componentId": component,
        "componentType": kind,
        "observedValue": None if seconds is None else round(seconds, 6),
        "observedUnit": "s",
        "status": HEALTH_STATUS[status],
        "time": time,
    }
    if status is not Status.OK:
        entry["output"] = error
    return entry
