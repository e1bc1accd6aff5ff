"""InsideSettings and the core's lifespan: what the smoke test inside a service takes, each bad
value refused by name, and a stop that lets a canary being written finish."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.checks.logging import LoggingOptions
from exporter.config import DEFAULT_MESSAGE
from exporter.inside.core import InsideSmokeTest, specs
from exporter.inside.settings import InsideSettings
from exporter.plan import CheckSpec
from tests.support.host_logging import Blocking, sending
from tests.wait import until, wait_until


def test_the_defaults_are_the_exporter_s_with_the_smoke_test_logger() -> None:
    settings = InsideSettings()
    assert (settings.logger, settings.message) == ("smoke_test", DEFAULT_MESSAGE)
    assert (settings.interval_seconds, settings.timeout_seconds) == (30.0, 2.0)
    assert specs(settings) == (CheckSpec("logging", "logging", 2.0, LoggingOptions()),)


def test_a_config_file_with_no_checks_key_runs_the_logging_check(tmp_path: Path) -> None:
    config = tmp_path / "smoke.yml"
    config.write_text("", encoding="utf-8")
    settings = InsideSettings(config_file=str(config), timeout_seconds=1.5)
    assert specs(settings) == (CheckSpec("logging", "logging", 1.5, LoggingOptions()),)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"config_file": "a.yml", "checks": ()}, "config_file and checks: give one, not both"),
        ({"logger": ""}, "logger: the name is empty"),
        (
            {"checks": (CheckSpec("logging", "logging", 1.0, LoggingOptions(), retries=1),)},
            "checks[0].retries: a logging check takes no retries: each run writes one canary, "
            "and the store checks count each canary once",
        ),
        ({"message": ""}, "message: the message is empty"),
        (
            {"interval_seconds": -1.0},
            "interval_seconds: -1.0 is not a number of seconds, 0 or more",
        ),
        (
            {"min_interval_seconds": math.nan},
            "min_interval_seconds: nan is not a number of seconds, 0 or more",
        ),
        ({"timeout_seconds": 0.0}, "timeout_seconds: 0.0 is not above 0"),
        ({"canary_key": b"short"}, "canary_key: 16 to 4096 bytes"),
        (
            {"instance": "two words"},
            "instance: 'two words' is not an instance name: 1 to 253 printable characters, "
            "no spaces",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_it(changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - the text is compared whole below
        InsideSettings(**changes)  # type: ignore[arg-type]
    assert str(raised.value) == error


@pytest.fixture
def blocked() -> Iterator[tuple[InsideSmokeTest, Blocking]]:
    """The smoke test inside a service whose one handler writes only once its gate opens."""
    logger = logging.getLogger("inside_test.blocked")
    blocking = Blocking()
    logger.addHandler(blocking)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    settings = InsideSettings(logger=logger.name, interval_seconds=0, timeout_seconds=0.2)
    try:
        yield InsideSmokeTest(settings, CollectorRegistry()), blocking
    finally:
        logger.removeHandler(blocking)
        blocking.close()


async def test_a_stopping_service_waits_for_a_canary_still_being_written(
    blocked: tuple[InsideSmokeTest, Blocking],
) -> None:
    # The service's handler takes a while to write; the service stops meanwhile. The canary is
    # written before its lifespan ends, so before the service closes its handlers.
    core, blocking = blocked
    async with core.running():
        await until(blocking.entered.is_set, "the start-up canary reached the handler")
        asyncio.get_running_loop().call_later(0.3, blocking.gate.set)
    # The lifespan ended only once the write could return (the gate opened 0.3 s later).
    assert blocking.gate.is_set()
    await until(lambda: not sending(), "the send thread ended")


def test_a_send_that_returns_after_its_loop_closed_raises_nothing(
    blocked: tuple[InsideSmokeTest, Blocking],
) -> None:
    # A service whose loop closed while a canary was being written: the send thread ends
    # quietly (pytest fails a test whose thread raised).
    core, blocking = blocked
    reply = asyncio.run(core.respond((), ""))
    assert (reply.status, reply.body["checks"]["logging"]["reason"]) == (503, "timeout")
    blocking.gate.set()
    wait_until(lambda: not sending(), "the send thread ended")
