"""Strict YAML: PyYAML's safe loader, refusing a key given twice, a file that is not a regular
file or is over 1 MiB, and aliases that expand past a bound; errors in one line."""

from __future__ import annotations

import errno
import os
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

# A config file is a few kilobytes; a bigger one is a mistake, or an attack on the parser.
MAX_BYTES = 1024 * 1024
# The most values a document may hold once its aliases are expanded, and the deepest nesting:
# a 559-byte "billion laughs" file expands to 10^9 values, which every walk over it then pays.
MAX_VALUES = 100_000
MAX_DEPTH = 64


class YamlError(ValueError):
    """A file that cannot be read as YAML; ``problem`` says why without naming the file."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def excerpt(value: object) -> str:
    """``value``'s repr, cut short: what an error quotes of a value from a file. reprlib never
    walks more of a structure than it shows."""
    short = reprlib.Repr()
    short.maxlevel, short.maxdict, short.maxlist = 2, 4, 4
    short.maxstring = short.maxother = 100
    return short.repr(value)


def _read(path: Path) -> bytes:
    """At most MAX_BYTES of a regular file. Opened without blocking and checked before a byte
    is read, so a FIFO or a device in the file's place is refused, not waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        reason = getattr(error, "strerror", None) or str(error)
        raise YamlError(f"cannot read {path}: {reason}", f"cannot read it: {reason}") from None
    _refuse_unless_regular(fd, path)
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        problem = f"larger than {MAX_BYTES // 1024} KiB"
        raise YamlError(f"{path} is {problem}", problem)
    return data


def _refuse_unless_regular(fd: int, path: Path) -> None:
    """Unless ``fd`` is a regular file, close it and raise YamlError with the reason."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return
    os.close(fd)
    reason = os.strerror(errno.EISDIR) if stat.S_ISDIR(mode) else "not a regular file"
    raise YamlError(f"cannot read {path}: {reason}", f"cannot read it: {reason}")


def read_yaml(path: Path) -> Any:
    """The document in ``path``; YamlError with a one-line reason when it cannot be had."""
    text = _read(path)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = f"not valid YAML: {error.problem}{where}"
    except yaml.YAMLError as error:
        problem = f"not valid YAML: {' '.join(str(error).split())}"
    except RecursionError:
        problem = f"not valid YAML: nested deeper than {MAX_DEPTH} levels"
    raise YamlError(f"{path} is {problem}", problem)


def kind(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}
    kinds[type(None)] = "null"
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a key given twice (the toolkit's strict decoding does),
    and a document nested too deep or too big once its aliases are expanded: checked on the
    composed nodes, before any value is built."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _bounded(node)
        return node


def _bounded(root: yaml.Node) -> None:
    """Raise a YAMLError when ``root`` nests deeper than MAX_DEPTH, or holds more than
    MAX_VALUES values counting each alias as the copy it stands for."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
        known = sizes.get(id(node))
        if known is not None:  # an alias: the same node again, counted again
            return known
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        if total > MAX_VALUES:
            raise yaml.YAMLError(f"more than {MAX_VALUES:,} values once its aliases are expanded")
        sizes[id(node)] = total
        return total

    size(root, 0)


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
