"""Fixtures that start the real console script and always stop it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.exporter_process import ExporterProcess, open_output

Start = Callable[..., ExporterProcess]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Factory: start the exporter with extra flags; its stdout goes to tmp_path/stdout.log."""
    processes: list[ExporterProcess] = []
    fds: list[int] = []

    def run(*args: str, stdout: int | None = None, announce: Path | None = None) -> ExporterProcess:
        if stdout is None:
            stdout = open_output(tmp_path / "stdout.log")
            fds.append(stdout)
        process = ExporterProcess(
            # Every request runs (min-interval 0) unless a test says otherwise: tests break and
            # repair sinks between calls; a later flag of the same name wins.
            ["--smoke-test.min-interval=0", *args],
            announce=announce or tmp_path / "stdout.log",
            stdout=stdout,
            stderr=tmp_path / "stderr.log",
        )
        processes.append(process)
        return process

    yield run
    for process in processes:
        process.kill()
    for fd in fds:
        os.close(fd)
