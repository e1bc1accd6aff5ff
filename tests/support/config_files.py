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
