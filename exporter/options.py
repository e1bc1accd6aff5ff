"""Typed options from YAML: a frozen dataclass's fields say what each key takes."""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NewType, TypeVar

from exporter.durations import parse_duration
from exporter.yamlfile import excerpt, kind

T = TypeVar("T")
# A Prometheus duration (500ms, 2s, 1m30s), more than zero; held as seconds.
Seconds = NewType("Seconds", float)


class OptionError(ValueError):
    """A key with a bad value: where it is (``checks[2].timeout``) and what is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class Invalid(ValueError):
    """Raised by an options dataclass's ``__post_init__``: ``key`` (relative to the options;
    empty for the whole entry) cannot take its value with the others."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


def load_options(
    cls: type[T],
    data: Mapping[str, Any],
    where: str,
    directory: Path,
    also: Sequence[str] = (),
) -> T:
    """An instance of the dataclass ``cls`` from ``data``: every key known, every required one
    present, every value of its field's type. ``where`` prefixes each key in errors, which
    name ``also`` among the known keys; relative paths are taken from ``directory``."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r}: options are a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            known = ", ".join([*also, *fields])
            raise OptionError(_join(where, key), f"unknown key (known: {known})")
    values = {}
    for name, field in fields.items():
        key = _join(where, name)
        if name in data:
            values[name] = convert(hints[name], data[name], key, directory)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise OptionError(key, "missing: this key is required")
    try:
        return cls(**values)
    except Invalid as error:
        raise OptionError(_join(where, error.key) if error.key else where, error.problem) from None


def _first_of(members: Sequence[Any], value: Any, key: str, directory: Path) -> Any:
    """``value`` as the first of the union's ``members`` that takes it."""
    errors = []
    for member in members:
        try:
            return convert(member, value, key, directory)
        except OptionError as error:
            errors.append(error)
    nested = [error for error in errors if error.key != key]
    if nested:  # the value had the right shape for a member, and a key inside it is wrong
        raise nested[0]
    if len(errors) == 1:
        raise errors[0]
    wanted = "; or ".join(error.problem.split(", not ")[0] for error in errors)
    raise OptionError(key, f"{wanted} (not {kind(value)})")


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _unit_for(number: float) -> str:
    """How to write ``number`` seconds as a duration, for an error: ``such as 10s or 500ms``."""
    if not math.isfinite(number) or number <= 0:
        return "such as 2s or 500ms"
    if float(number).is_integer():
        return f"such as {int(number)}s or 500ms"
    return f"such as {round(number * 1000)}ms"


def convert(hint: Any, value: Any, key: str, directory: Path) -> Any:  # noqa: PLR0911, PLR0912
    """``value`` as the type ``hint``, or OptionError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        members = [arg for arg in args if arg is not type(None)]
        return _first_of(members, value, key, directory)
    if hint is Any:
        return value
    if hint is Seconds:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise OptionError(key, f"{value!r} has no unit: write a duration {_unit_for(value)}")
        if not isinstance(value, str):
            raise OptionError(key, f"must be a duration such as 2s or 500ms, not {kind(value)}")
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            raise OptionError(key, str(error)) from None
        if seconds <= 0:
            raise OptionError(key, f"{excerpt(value)} must be more than 0")
        return Seconds(seconds)
    if hint is bool:
        if not isinstance(value, bool):
            raise OptionError(key, f"must be true or false, not {kind(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(key, f"must be a whole number, not {kind(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise OptionError(key, f"must be a number, not {kind(value)}")
        if not math.isfinite(value):
            raise OptionError(key, f"must be a finite number, not {value}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise OptionError(key, f"must be a string, not {kind(value)}")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise OptionError(key, f"must be a non-empty path, not {kind(value)}")
        if "\x00" in value:
            raise OptionError(key, "must not hold a NUL byte")
        return Path(os.path.normpath(directory / value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        choices = [member.value for member in hint]
        if value not in choices:
            raise OptionError(key, f"{excerpt(value)} is not one of {', '.join(map(str, choices))}")
        return hint(value)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise OptionError(key, f"must be a list, not {kind(value)}")
        return tuple(convert(args[0], v, f"{key}[{i}]", directory) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise OptionError(key, f"must be a mapping, not {kind(value)}")
        return {
            convert(args[0], k, key, directory): convert(args[1], v, _join(key, k), directory)
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise OptionError(key, f"must be a mapping, not {kind(value)}")
        return load_options(hint, value, key, directory)
    raise TypeError(f"{key}: options of type {hint!r} are not supported")
