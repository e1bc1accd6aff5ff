"""Strict YAML against hostile files: aliases that expand, deep nesting, big files, FIFOs,
NULs, and the length of what an error quotes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from exporter.config import Settings
from exporter.config_file import ConfigError, load_plan
from exporter.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_VALUES, excerpt
from tests.support.config_files import alias_bomb, load, refused


def test_an_alias_bomb_is_refused_before_any_value_is_built(tmp_path: Path) -> None:
    refused(
        tmp_path,
        alias_bomb("checks"),
        f"not valid YAML: more than {MAX_VALUES:,} values once its aliases are expanded",
    )


def test_the_same_alias_bomb_inside_a_check_option_is_refused_too(tmp_path: Path) -> None:
    text = alias_bomb(None) + (
        "checks:\n  - name: web\n    type: http\n    url: http://127.0.0.1:1/\n"
        "    json_path: a\n    json_equals: *i\n"
    )
    refused(
        tmp_path,
        text,
        f"not valid YAML: more than {MAX_VALUES:,} values once its aliases are expanded",
    )


def test_aliases_that_stay_small_are_read_as_before(tmp_path: Path) -> None:
    text = (
        "checks:\n"
        "  - {name: a, type: http, url: &url 'http://127.0.0.1:1/'}\n"
        "  - {name: b, type: http, url: *url}\n"
    )
    plan = load(tmp_path, text)
    assert [(check.name, check.options.url) for check in plan.checks] == [
        ("a", "http://127.0.0.1:1/"),
        ("b", "http://127.0.0.1:1/"),
    ]


def test_nesting_deeper_than_the_bound_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    deep = "checks: " + "[" * 3000 + "]" * 3000 + "\n"
    refused(tmp_path, deep, f"not valid YAML: nested deeper than {MAX_DEPTH} levels")
    just = "checks: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    refused(tmp_path, just, f"not valid YAML: nested deeper than {MAX_DEPTH} levels")


def test_a_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    padding = "#" + "x" * 1023 + "\n"
    refused(tmp_path, padding * (MAX_BYTES // 1024 + 1), "larger than 1024 KiB")


def test_a_fifo_in_the_files_place_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "smoke-test.yml"
    os.mkfifo(path)
    errors: list[str] = []

    def read() -> None:
        try:
            load_plan(Settings(config_file=path))
        except ConfigError as error:
            errors.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    alive = reader.is_alive()
    if alive:  # unblock it: a writer lets the open return
        with open(path, "wb"):
            pass
    assert not alive, "reading a FIFO blocked"
    assert errors == [f"--config.file: {path}: cannot read it: not a regular file"]


def test_a_path_with_a_nul_byte_is_refused_with_its_key(tmp_path: Path) -> None:
    text = 'sinks:\n  - name: central\n    type: file\n    path: "x\\0y.log"\n'
    refused(tmp_path, text, "sinks[0].path: must not hold a NUL byte")


def test_a_duration_past_a_year_is_refused(tmp_path: Path) -> None:
    text = (
        "checks:\n  - name: web\n    type: http\n    url: http://127.0.0.1:1/\n"
        "    timeout: 99999999999999999999y\n"
    )
    refused(tmp_path, text, "checks[0].timeout: '99999999999999999999y' is longer than a year")


def test_an_error_quotes_a_short_excerpt_of_a_huge_value(tmp_path: Path) -> None:
    huge = "m" * 100_000
    entry = "  - name: web\n    type: http\n    url: http://127.0.0.1:1/\n"
    text = f"checks:\n{entry}    method: {huge}\n"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert len(str(caught.value)) < 300
    assert excerpt(huge) in str(caught.value)
    assert len(excerpt(huge)) <= 104
