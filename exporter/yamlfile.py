"""Strict YAML: PyYAML's safe loader, refusing a key given twice; errors in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """A file that cannot be read as YAML; ``problem`` says why without naming the file."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def read_yaml(path: Path) -> Any:
    """The document in ``path``; YamlError with a one-line reason when it cannot be had."""
    try:
        text = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise YamlError(f"cannot read {path}: {reason}", f"cannot read it: {reason}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = f"not valid YAML: {error.problem}{where}"
    except yaml.YAMLError as error:
        problem = f"not valid YAML: {' '.join(str(error).split())}"
    raise YamlError(f"{path} is {problem}", problem)


def kind(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}
    kinds[type(None)] = "null"
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a key given twice (the toolkit's strict decoding does)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            continue  # only strings are valid keys here; the checks after loading say so
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
