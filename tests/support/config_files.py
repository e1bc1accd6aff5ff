"""Loading a config file written by the test, and asserting the exact error it is refused with."""

from __future__ import annotations

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
