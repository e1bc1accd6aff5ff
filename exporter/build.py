"""Plan -> live parts: each sink and check built by its type's factory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from exporter.checks import CHECK_TYPES
from exporter.checks.base import CheckDeps, CheckType
from exporter.plan import CheckSpec, SinkSpec
from exporter.run.attempts import PlannedCheck
from exporter.run.check_series import Shape
from exporter.sinks import SINK_TYPES, Sink, SinkDeps


def build_sinks(
    specs: Iterable[SinkSpec], deps: SinkDeps, running: Sequence[tuple[SinkSpec, Sink]] = ()
) -> list[tuple[SinkSpec, Sink]]:
    """A sink per spec; one already ``running`` with an equal spec is kept, not rebuilt."""
    built = []
    for spec in specs:
        kept = [sink for old, sink in running if old == spec]
        sink = kept[0] if kept else SINK_TYPES[spec.type].build(spec.name, spec.options, deps)
        built.append((spec, sink))
    return built


def build_checks(
    specs: Iterable[CheckSpec],
    deps: CheckDeps,
    types: Mapping[str, CheckType[Any]] = CHECK_TYPES,
) -> dict[str, PlannedCheck]:
    """A check per spec, with its timeout, by name in the config file's order; ``types`` is
    CHECK_TYPES but inside a service, whose logging check is its own."""
    planned = {}
    for spec in specs:
        check_type = types[spec.type]
        planned[spec.name] = PlannedCheck(
            check_type.build(spec.name, spec.options, deps),
            spec.timeout_seconds,
            Shape(
                check_type.reason_values,
                observes=check_type.unit is not None,
                retries=spec.retries > 0,
            ),
            spec.retries,
            spec.retry_delay_seconds,
            spec.objective,
        )
    return planned
