"""Loading a config file written by the test, and asserting the exact error it is refused with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.config import Settings
from exporter.config_file import ConfigError, load_plan
from exporter.plan import Plan


def load(tmp_path: Path, text: str, **settings: object) -> Plan:
    path = tmp_path / "smoke-test.yml"
    path.write_text(text, encoding="utf-8")
    return load_plan(Settings(config_file=path, **settings))  # type: ignore[arg-type]


def refused(tmp_path: Path, text: str, problem: str, **settings: object) -> None:
    """Loading ``text`` fails with exactly ``problem`` after the file's name."""
    path = tmp_path / "smoke-test.yml"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, **settings)
    assert str(caught.value) == f"--config.file: {path}: {problem}"


def alias_bomb(key: str | None) -> str:
    """ "Billion laughs": 9 levels of 10 aliases each, 10^9 strings once expanded, in under
    600 bytes; the last level (anchor ``i``) is the value of ``key``, if one is given."""
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for below, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{below}'] * 10)}]")
    return "\n".join(levels) + "\n" + (f"{key}: *i\n" if key else "")


# Hostile config files, each with the one-line problem it is refused with.
HOSTILE_FILES = {
    "alias bomb": (
        alias_bomb("checks"),
        "not valid YAML: more than 100,000 values once its aliases are expanded",
    ),
    "deep nesting": (
        "checks: " + "[" * 3000 + "]" * 3000 + "\n",
        "not valid YAML: nested deeper than 64 levels",
    ),
    "NUL in a path": (
        'sinks: [{name: central, type: file, path: "a\\0b.log"}]\n',
        "sinks[0].path: must not hold a NUL byte",
    ),
    "NUL in a token file": (
        "checks: [{name: web, type: http, url: 'http://127.0.0.1:1/', "
        'bearer_token_file: "t\\0k"}]\n',
        "checks[0].bearer_token_file: must not hold a NUL byte",
    ),
    "a duration of ages": (
        "checks: [{name: web, type: http, url: 'http://127.0.0.1:1/', timeout: 99999y}]\n",
        "checks[0].timeout: '99999y' is longer than a year",
    ),
}


# Hostile secret files: what the token file holds (None: it is a FIFO nobody writes to), and
# the one-line problem it is refused with, ``{path}`` standing for the file's path.
MANY_LINES = "{path} holds more than one line: a secret is one line"
CONTROL = "{path} holds a control character (a NUL, an escape): not a secret"
HOSTILE_SECRETS: dict[str, tuple[bytes | None, str]] = {
    "a line break inside": (b"tok\nen\n", MANY_LINES),
    "a carriage return inside": (b"tok\ren", MANY_LINES),
    "a NUL": (b"tok\0en\n", CONTROL),
    "an escape": (b"tok\x1b[2Jen", CONTROL),
    "a FIFO": (None, "cannot read {path}: not a regular file"),
}


def with_token_file(directory: Path, content: bytes | None) -> tuple[str, Path]:
    """A config file's text whose one http check reads its bearer token from a file beside it
    holding ``content`` (None: a FIFO); and that file's path."""
    path = directory / "token"
    if content is None:
        os.mkfifo(path)
    else:
        path.write_bytes(content)
    check = "{name: web, type: http, url: 'http://127.0.0.1:1/', bearer_token_file: token}"
    return f"checks: [{check}]\n", path
