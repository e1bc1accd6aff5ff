"""Retries: a check tried again in the same run while it fails, against a real HTTP server; a
pass that needed a retry is a warning, never ok, and every retried attempt is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from exporter.checks import CHECK_TYPES
from exporter.checks.http_failure import HttpReason
from exporter.run.attempts import PlannedCheck, attempted
from exporter.run.check_series import CheckSeries, Shape
from exporter.run.results import Trigger
from exporter.verdict import CheckResult, RetryReason, RunInfo, Status
from tests.conftest import StartExporter
from tests.support.config_files import load, refused

HTTP_REASONS = CHECK_TYPES["http"].reason_values


class Flaky:
    """A server whose every other answer is a 500 (the first one too), or every answer when
    ``always``; ``hang`` answers nothing at all."""

    def __init__(self) -> None:
        self.requests = 0
        self.always = False
        self.hang = False

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang:
            await asyncio.sleep(30)
        if self.always or self.requests % 2 == 1:
            return web.Response(status=500, text="down")
        return web.Response(text="up")


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[Flaky, str]]:
    state = Flaky()
    app = web.Application()
    app.router.add_get("/", state.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(shutdown_timeout=0.1)
    yield state, str(server.make_url("/"))
    await server.close()


def config(tmp_path: Path, url: str, extra: str) -> Path:
    path = tmp_path / "smoke-test.yml"
    path.write_text(f"checks:\n  - {{name: web, type: http, url: '{url}'{extra}}}\n")
    return path


async def test_a_check_that_fails_then_passes_is_a_warning_with_its_attempts_listed(
    start_exporter: StartExporter, tmp_path: Path, flaky: tuple[Flaky, str]
) -> None:
    state, url = flaky
    exporter = await start_exporter(config_file=config(tmp_path, url, ", retries: 2"))
    assert state.requests == 2  # the start-up run: a 500, then a 200
    status, body = await exporter.smoke()
    web_check = body["checks"]["web"]
    assert (status, body["status"], body["message"]) == (
        200,
        "warn",
        "PetSage systems are purring perfectly!",
    )
    assert (web_check["status"], web_check["reason"]) == ("warn", "retried")
    assert web_check["error"] == (
        "passed on attempt 2 of 3; attempt 1 failed (status): status 500, expected 2xx"
    )
    assert [(a["status"], a["reason"]) for a in web_check["attempts"]] == [
        ("fail", "status"),
        ("ok", None),
    ]
    assert web_check["http_status"] == 200
    assert state.requests == 4
    # Two runs, each retried once after a 500: counted by that attempt's reason.
    for reason in HTTP_REASONS:
        wanted = 2 if reason == "status" else 0
        assert exporter.sample("smoke_test_check_retries_total", check="web", reason=reason) == (
            wanted
        ), reason
        assert exporter.sample("smoke_test_check_failures_total", check="web", reason=reason) == 0
    assert exporter.sample("smoke_test_check_status", check="web", status="warn") == 1
    assert exporter.sample("smoke_test_check_success", check="web") == 1
    assert exporter.sample("smoke_test_success") == 1


async def test_a_check_whose_attempts_all_fail_fails_with_the_last_reason_within_its_bound(
    start_exporter: StartExporter, tmp_path: Path, flaky: tuple[Flaky, str]
) -> None:
    state, url = flaky
    extra = ", retries: 2, retry_delay: 50ms, timeout: 300ms"
    exporter = await start_exporter(config_file=config(tmp_path, url, extra))
    state.always = True
    before = state.requests
    status, body = await exporter.smoke()
    web_check = body["checks"]["web"]
    assert (status, web_check["status"], web_check["reason"]) == (503, "fail", "status")
    assert web_check["error"] == "status 500, expected 2xx"
    assert [a["reason"] for a in web_check["attempts"]] == ["status", "status", "status"]
    assert state.requests - before == 3
    assert exporter.sample("smoke_test_check_retries_total", check="web", reason="status") == 3
    assert exporter.sample("smoke_test_check_failures_total", check="web", reason="status") == 1

    state.hang = True
    status, body = await exporter.smoke()
    web_check = body["checks"]["web"]
    assert (status, web_check["reason"]) == (503, "timeout")
    assert [a["reason"] for a in web_check["attempts"]] == ["timeout"] * 3
    # Three attempts of at most their 300 ms timeout (the cut-off may grant a busy loop as long
    # again as it was late, once), two delays of 50 ms: the bound, with room for a busy machine.
    assert web_check["duration_seconds"] < 3 * 0.6 + 2 * 0.05 + 0.5
    assert exporter.sample("smoke_test_check_retries_total", check="web", reason="timeout") == 2

    state.hang = state.always = False
    state.requests = 1  # the next answer is a 200: recovered, with no restart
    status, body = await exporter.smoke()
    assert (status, body["checks"]["web"]["status"]) == (200, "ok")
    assert "attempts" not in body["checks"]["web"]


async def test_a_check_without_retries_has_no_retry_series(
    start_exporter: StartExporter, tmp_path: Path, flaky: tuple[Flaky, str]
) -> None:
    state, url = flaky
    state.always = True
    exporter = await start_exporter(config_file=config(tmp_path, url, ""))
    status, body = await exporter.smoke()
    assert (status, body["checks"]["web"]["reason"]) == (503, "status")
    assert "attempts" not in body["checks"]["web"]
    labels = {"check": "web", "reason": "status"}
    assert exporter.registry.get_sample_value("smoke_test_check_retries_total", labels) is None


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        (
            "{name: logging, type: logging, retries: 1}",
            "checks[0].retries: a logging check takes no retries: each run writes one canary, "
            "and the store checks count each canary once",
        ),
        (
            "{name: logging, type: logging}, {name: kept, type: file, path: x.log, "
            "retry_delay: 1s}",
            "checks[1].retry_delay: a file check takes no retries: each run writes one canary, "
            "and the store checks count each canary once",
        ),
        (
            "{name: web, type: tcp, address: '127.0.0.1:1', retries: -1}",
            "checks[0].retries: -1 is not 0 to 10",
        ),
        (
            "{name: web, type: tcp, address: '127.0.0.1:1', retries: 11}",
            "checks[0].retries: 11 is not 0 to 10",
        ),
        (
            "{name: web, type: tcp, address: '127.0.0.1:1', retries: true}",
            "checks[0].retries: must be a whole number, not true/false",
        ),
        (
            "{name: web, type: tcp, address: '127.0.0.1:1', retries: 1, retry_delay: 2}",
            "checks[0].retry_delay: 2 has no unit: write a duration such as 2s or 500ms",
        ),
    ],
)
def test_bad_retries_are_refused_naming_the_key(tmp_path: Path, check: str, problem: str) -> None:
    refused(tmp_path, f"checks: [{check}]\n", problem)


def test_retries_and_their_delay_are_read_per_check(tmp_path: Path) -> None:
    plan = load(
        tmp_path,
        "checks:\n"
        "  - {name: logging, type: logging}\n"
        "  - {name: db, type: tcp, address: '127.0.0.1:5432', retries: 3, retry_delay: 1s}\n"
        "  - {name: web, type: tcp, address: '127.0.0.1:80'}\n",
    )
    assert [(c.name, c.retries, c.retry_delay_seconds) for c in plan.checks] == [
        ("logging", 0, 0.2),
        ("db", 3, 1.0),
        ("web", 0, 0.2),
    ]


def test_an_unknown_key_of_a_logging_check_does_not_offer_retries(tmp_path: Path) -> None:
    text = "checks: [{name: logging, type: logging, retrys: 1}]\n"
    refused(tmp_path, text, "checks[0].retrys: unknown key (known: name, type, timeout, objective)")


def retry_series(registry: CollectorRegistry) -> list[tuple[str, str]]:
    return [
        (sample.labels["check"], sample.labels["reason"])
        for metric in registry.collect()
        if metric.name == "smoke_test_check_retries"
        for sample in metric.samples
        if sample.name == "smoke_test_check_retries_total"
    ]


def test_a_check_with_retries_has_one_retry_series_per_reason_until_it_is_removed() -> None:
    registry = CollectorRegistry()
    series = CheckSeries(registry)
    series.add("web", Shape(HTTP_REASONS, observes=True, retries=True))
    series.add("db", Shape(HTTP_REASONS, observes=True))
    assert retry_series(registry) == [("web", reason) for reason in HTTP_REASONS]
    assert len(HTTP_REASONS) == 8  # docs/metrics.md: an http check with retries has 14 + 8
    series.remove("web")
    assert retry_series(registry) == []


async def test_a_retried_pass_that_warned_keeps_its_own_warning_in_the_error() -> None:
    results = iter(
        [
            CheckResult(Status.FAIL, HttpReason.STATUS, "status 500, expected 2xx"),
            CheckResult(Status.WARN, HttpReason.TIMEOUT, "answered in 0.600s, slower than 0.5s"),
        ]
    )

    async def flaky(run: RunInfo) -> CheckResult:
        return next(results)

    planned = PlannedCheck(flaky, 1.0, retries=2, retry_delay_seconds=0.01)
    outcome = await attempted(planned, "r" * 32, Trigger.HTTP)
    assert (outcome.result.status, outcome.result.reason) == (Status.WARN, RetryReason.RETRIED)
    assert outcome.result.error == (
        "passed on attempt 2 of 3; attempt 1 failed (status): status 500, expected 2xx; "
        "attempt 2 warned (timeout): answered in 0.600s, slower than 0.5s"
    )
    assert [(a.status, a.reason) for a in outcome.attempts] == [
        (Status.FAIL, "status"),
        (Status.WARN, "timeout"),
    ]
    assert outcome.retried == ("status",)
