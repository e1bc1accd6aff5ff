"""Fixtures: the exporter built as production builds it, with real files for its sinks."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from exporter import server as exporter_server
from exporter.app import create_app, runner_options
from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.registry import Stores
from exporter.config import Settings
from exporter.session import SharedSession
from exporter.web.keys import RUNNER
from exporter.webconfig.load import load_web_config
from tests.wait import DEADLINE, POLL

CANARY = "Smoke test endpoint triggered. Logging is confirmed to be operational."


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` parsed as JSON; fails on a partial or non-JSON line."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"{path} ends with a partial line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


@dataclass
class Exporter:
    """A running in-process exporter and the files behind its sinks."""

    client: TestClient[web.Request, web.Application]
    app: web.Application
    registry: CollectorRegistry
    settings: Settings
    stdout_path: Path | None
    fds: list[int] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        assert self.settings.log_file is not None
        return self.settings.log_file

    def sample(self, name: str, **labels: str) -> float:
        """A sample's value; missing series fail the test."""
        value = self.registry.get_sample_value(name, labels)
        assert value is not None, f"no sample {name}{labels}"
        return value

    async def smoke(self, path: str = "/smoke-test") -> tuple[int, dict[str, Any]]:
        """GET the smoke test: status and JSON body."""
        async with self.client.get(path) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    def stdout_lines(self) -> list[dict[str, Any]]:
        assert self.stdout_path is not None
        return json_lines(self.stdout_path)

    def file_lines(self) -> list[dict[str, Any]]:
        return json_lines(self.log_path)

    async def until_line(
        self, lines: Callable[[], list[dict[str, Any]]], wanted: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """``lines()`` once one of them is ``wanted``: sink threads write after the answer.

        A line caught half-written (a reader can see a write half done) is read again."""
        end = time.monotonic() + DEADLINE
        while True:
            try:
                found = lines()
            except AssertionError:
                if time.monotonic() > end:
                    raise
            else:
                if any(wanted(line) for line in found):
                    return found
                if time.monotonic() > end:
                    raise AssertionError(f"the line never reached the sink within {DEADLINE:g}s")
            await asyncio.sleep(POLL)


StartExporter = Callable[..., Awaitable[Exporter]]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where the file sink writes: a file in a directory of its own, so tests can remove it."""
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs" / "exporter.log"


@pytest.fixture
async def start_exporter(
    aiohttp_client: Any, tmp_path: Path, log_path: Path
) -> AsyncIterator[StartExporter]:
    """Factory: an exporter whose stdout is a real file (or a given fd), ready after start-up."""
    started: list[Exporter] = []

    async def start(
        stdout_fd: int | None = None, wait_ready: bool = True, **overrides: Any
    ) -> Exporter:
        # Every request runs (min-interval 0): tests break and repair sinks between calls.
        base = Settings(
            log_file=log_path, interval_seconds=0, timeout_seconds=1.0, min_interval_seconds=0
        )
        settings = replace(base, **overrides)
        fds: list[int] = []
        stdout_path = None
        if stdout_fd is None:
            stdout_path = tmp_path / f"stdout-{len(started)}.log"
            stdout_fd = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fds.append(stdout_fd)
        registry = CollectorRegistry()
        web_config = load_web_config(settings.web_config_file) if settings.web_config_file else None
        app = create_app(settings, registry, stdout_fd=stdout_fd, web_config=web_config)
        # TestServer's constructor drops runner options; start_server passes them to AppRunner.
        server = TestServer(app)
        await server.start_server(**runner_options())
        client = await aiohttp_client(server)
        exporter = Exporter(client, app, registry, settings, stdout_path, fds)
        started.append(exporter)
        if wait_ready:
            await app[RUNNER].ready.wait()
        return exporter

    yield start
    for exporter in started:
        await exporter.client.close()  # stops the sink threads before their fds go away
        for fd in exporter.fds:
            os.close(fd)


@dataclass
class FakeServe:
    """Stands in for exporter.server.serve: records the Settings instead of binding a port."""

    code: int
    calls: list[Settings]

    async def __call__(self, settings: Settings, plan: object, web_config: object = None) -> int:
        self.calls.append(settings)
        return self.code


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> FakeServe:
    """main() imports serve when it runs, so a bad-flag test that parsed fine fails, not hangs."""
    fake = FakeServe(code=0, calls=[])
    monkeypatch.setattr(exporter_server, "serve", fake)
    return fake


@pytest.fixture
async def deps() -> AsyncIterator[CheckDeps]:
    """What a check is built with, as the app gives it: the HTTP client open for the test."""
    shared = SharedSession()
    await shared.open()
    registry = CollectorRegistry()
    ledger = CanaryLedger("test")
    yield CheckDeps(None, shared, registry, ledger, Stores(registry, ledger))
    await shared.close()
