"""--config.file: the YAML file naming the sinks and checks, loaded and checked whole."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.checks import CHECK_TYPES, NO_RETRIES, STORE_TYPES
from exporter.checks.logging import LoggingOptions
from exporter.config import Settings
from exporter.heartbeat.options import HeartbeatOptions
from exporter.options import OptionError, Seconds, convert, load_options
from exporter.plan import CheckSpec, Plan, SinkSpec, default_plan, with_log_file
from exporter.sinks import SINK_TYPES
from exporter.yamlfile import YamlError, excerpt, kind, read_yaml

NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
TOP_KEYS = ("sinks", "checks", "heartbeat")
SINK_KEYS = ("name", "type")  # besides the type's own options
CHECK_KEYS = ("name", "type", "timeout", "objective", "retries", "retry_delay")
# The most retries a check may have: each attempt may take the whole timeout.
MAX_RETRIES = 10
LOG_FILE_SINK = "file"  # the name --log.file gives its sink


class ConfigError(ValueError):
    """A config file that cannot be used, in one line: the file, the key path, the problem."""

    def __init__(self, path: Path, problem: str, source: str = "--config.file") -> None:
        super().__init__(f"{source}: {path}: {problem}")


def load_plan(settings: Settings) -> Plan:
    """The plan in ``settings.config_file``, or the default plan without one; ConfigError."""
    path = settings.config_file
    if path is None:
        return default_plan(settings)
    try:
        document = read_yaml(path)
    except YamlError as error:
        raise ConfigError(path, error.problem) from None
    try:
        return _plan(document, path.absolute().parent, settings)
    except OptionError as error:
        raise ConfigError(path, str(error)) from None


def load_checks(path: Path, default_timeout: float, source: str) -> tuple[CheckSpec, ...]:
    """The checks of a config file read by the smoke test inside a service (``source`` names
    the setting); one that names sinks or a heartbeat is refused: the service's own handlers
    are its sinks. ConfigError."""
    try:
        document = read_yaml(path)
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise OptionError("(top level)", f"must be a mapping, not {kind(document)}")
        for key in document:
            if key != "checks":
                why = "unknown key" if key not in TOP_KEYS else "not used inside a service"
                raise OptionError(str(key), f"{why} (known: checks)")
        if "checks" not in document:
            return (CheckSpec("logging", "logging", default_timeout, LoggingOptions()),)
        return _checks(document["checks"], path.absolute().parent, default_timeout)
    except YamlError as error:
        raise ConfigError(path, error.problem, source) from None
    except OptionError as error:
        raise ConfigError(path, str(error), source) from None


def _plan(document: Any, directory: Path, settings: Settings) -> Plan:
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise OptionError("(top level)", f"must be a mapping, not {kind(document)}")
    for key in document:
        if key not in TOP_KEYS:
            raise OptionError(str(key), f"unknown key (known: {', '.join(TOP_KEYS)})")
    default = default_plan(settings)
    sinks = default.sinks
    if "sinks" in document:
        sinks = with_log_file(_sinks(document["sinks"], directory), settings)
        _no_log_file_clash(sinks, settings)
    checks = default.checks
    if "checks" in document:
        checks = _checks(document["checks"], directory, settings.timeout_seconds)
    heartbeat = None
    if document.get("heartbeat") is not None:
        heartbeat = convert(HeartbeatOptions, document["heartbeat"], "heartbeat", directory)
    return Plan(sinks, checks, heartbeat)


def _items(value: Any, section: str) -> list[tuple[str, dict[str, Any], str, str]]:
    """Each entry of a ``sinks`` or ``checks`` list, its key path, name and type, names
    checked for shape and uniqueness."""
    if not isinstance(value, list):
        raise OptionError(section, f"must be a list, not {kind(value)}")
    items = []
    seen: dict[str, str] = {}
    for index, item in enumerate(value):
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            raise OptionError(where, f"must be a mapping, not {kind(item)}")
        for key in ("name", "type"):
            if key not in item:
                raise OptionError(f"{where}.{key}", "missing: this key is required")
            if not isinstance(item[key], str):
                raise OptionError(f"{where}.{key}", f"must be a string, not {kind(item[key])}")
        name = item["name"]
        if not NAME.fullmatch(name):
            problem = f"{excerpt(name)} must match [a-z][a-z0-9_-]{{0,62}} (a label value)"
            raise OptionError(f"{where}.name", problem)
        if name in seen:
            raise OptionError(f"{where}.name", f"{name!r} is already the name of {seen[name]}")
        seen[name] = where
        items.append((where, item, name, item["type"]))
    return items


def _type(types: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in types:
        known = ", ".join(types)
        raise OptionError(f"{where}.type", f"unknown type {excerpt(name)} (known: {known})")
    return types[name]


def _sinks(value: Any, directory: Path) -> tuple[SinkSpec, ...]:
    specs: list[tuple[str, SinkSpec]] = []
    for where, item, name, type_name in _items(value, "sinks"):
        sink_type = _type(SINK_TYPES, type_name, where)
        data = {k: v for k, v in item.items() if k not in SINK_KEYS}
        options = load_options(sink_type.options, data, where, directory, SINK_KEYS)
        spec = SinkSpec(name, type_name, options)
        for other_where, other in specs:
            if (other.type, other.options) == (spec.type, spec.options):
                raise OptionError(where, f"writes where {other_where} writes (same {type_name})")
        specs.append((where, spec))
    return tuple(spec for _, spec in specs)


def _no_log_file_clash(sinks: tuple[SinkSpec, ...], settings: Settings) -> None:
    """--log.file adds the last sink; it may not share a name or a file with the others."""
    if settings.log_file is None:
        return
    *named, log_file = sinks
    for index, spec in enumerate(named):
        if spec.name == LOG_FILE_SINK:
            raise OptionError(
                f"sinks[{index}].name", f"{LOG_FILE_SINK!r} is the name of the --log.file sink"
            )
        if (spec.type, spec.options) == (log_file.type, log_file.options):
            raise OptionError(f"sinks[{index}]", "writes where --log.file writes (same file)")


def _retries(
    item: dict[str, Any], type_name: str, where: str, directory: Path
) -> tuple[int, float]:
    """A check's ``retries`` and ``retry_delay``; refused for the checks that count canaries."""
    for key in ("retries", "retry_delay"):
        if key in item and type_name in NO_RETRIES:
            raise OptionError(
                f"{where}.{key}",
                f"a {type_name} check takes no retries: each run writes one canary, and the "
                "store checks count each canary once",
            )
    retries = convert(int, item.get("retries", 0), f"{where}.retries", directory)
    if not 0 <= retries <= MAX_RETRIES:
        raise OptionError(f"{where}.retries", f"{retries} is not 0 to {MAX_RETRIES}")
    delay = convert(Seconds, item.get("retry_delay", "200ms"), f"{where}.retry_delay", directory)
    return retries, delay


def _objective(item: dict[str, Any], where: str, directory: Path) -> float | None:
    """A check's ``objective``: the share of its runs that should pass, strictly between 0
    and 1 (``0.999``); None when it has none."""
    if "objective" not in item:
        return None
    value = item["objective"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OptionError(f"{where}.objective", f"{value!r} is not a number: write it as 0.999")
    if not 0 < value < 1:
        raise OptionError(
            f"{where}.objective",
            f"{value!r} is not between 0 and 1 (both excluded): write it as 0.999",
        )
    return float(value)


def _checks(value: Any, directory: Path, default_timeout: float) -> tuple[CheckSpec, ...]:
    specs = []
    for where, item, name, type_name in _items(value, "checks"):
        check_type = _type(CHECK_TYPES, type_name, where)
        timeout = default_timeout
        if "timeout" in item:
            timeout = convert(Seconds, item["timeout"], f"{where}.timeout", directory)
        data = {k: v for k, v in item.items() if k not in CHECK_KEYS}
        common = CHECK_KEYS if type_name not in NO_RETRIES else CHECK_KEYS[:4]
        options = load_options(check_type.options, data, where, directory, common)
        retries, delay = _retries(item, type_name, where, directory)
        objective = _objective(item, where, directory)
        specs.append(CheckSpec(name, type_name, timeout, options, retries, delay, objective))
    stores = [i for i, spec in enumerate(specs) if spec.type in STORE_TYPES]
    if stores and not any(spec.type == "logging" for spec in specs):
        raise OptionError(
            f"checks[{stores[0]}].type",
            f"{specs[stores[0]].type!r} looks for the canary that a logging check writes: "
            "add a check of type logging",
        )
    return tuple(specs)
