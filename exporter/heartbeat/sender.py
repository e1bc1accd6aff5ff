"""Sends the heartbeat after each run, from one task: a slow target cannot pile up sends (at
most one in flight; a newer run's heartbeat replaces one still waiting)."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from exporter.run.results import RunResult

log = logging.getLogger("exporter.heartbeat")


class HeartbeatReason(enum.Enum):
    """Why a heartbeat was not delivered: the ``reason`` label of its failure counter."""

    CONNECT = "connect"  # no connection (refused, unreachable, the name unknown)
    TIMEOUT = "timeout"  # no answer within the heartbeat's timeout
    STATUS = "status"  # an answer that was not 2xx


class HeartbeatError(Exception):
    """A send that failed, and why."""

    def __init__(self, reason: HeartbeatReason, error: str) -> None:
        super().__init__(error)
        self.reason = reason


class Target(Protocol):
    """Where a heartbeat goes: ``pushgateway`` or ``url``."""

    name: str

    async def send(self, result: RunResult) -> None:
        """Send the heartbeat of ``result``; HeartbeatError when it fails."""


class HeartbeatSeries:
    """``smoke_test_heartbeat_failures_total{target,reason}``, every reason at 0 for each
    configured target."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._failures = Counter(
            "smoke_test_heartbeat_failures",
            "Heartbeats not delivered, by target (pushgateway, url) and reason.",
            ["target", "reason"],
            registry=registry,
        )
        self._targets: set[str] = set()

    def keep(self, targets: Sequence[str]) -> None:
        """Series for exactly ``targets``."""
        for target in self._targets - set(targets):
            for reason in HeartbeatReason:
                self._failures.remove(target, reason.value)
        for target in targets:
            for reason in HeartbeatReason:
                self._failures.labels(target, reason.value)
        self._targets = set(targets)

    def failed(self, target: str, reason: HeartbeatReason) -> None:
        self._failures.labels(target, reason.value).inc()


class Heartbeat:
    """The newest run's heartbeat, sent to every target by one task."""

    def __init__(self, series: HeartbeatSeries) -> None:
        self._series = series
        self._targets: tuple[Target, ...] = ()
        self._timeout = 5.0
        self._latest: RunResult | None = None
        self._wake = asyncio.Event()

    def configure(self, targets: Sequence[Target], timeout: float) -> None:
        """Send to ``targets`` from the next heartbeat on (start-up and each reload)."""
        self._targets = tuple(targets)
        self._timeout = timeout
        self._series.keep([t.name for t in targets])

    def notify(self, result: RunResult) -> None:
        """A run has finished: send its heartbeat once the one in flight, if any, is done."""
        if self._targets:
            self._latest = result
            self._wake.set()

    async def serve(self) -> None:
        """Send each heartbeat as it comes; runs until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            result, self._latest = self._latest, None
            if result is not None:
                await asyncio.gather(*(self._send(t, result) for t in self._targets))

    async def _send(self, target: Target, result: RunResult) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await target.send(result)
        except TimeoutError:
            self._failed(target, HeartbeatReason.TIMEOUT, f"no answer within {self._timeout:g}s")
        except HeartbeatError as error:
            self._failed(target, error.reason, str(error))
        except Exception as error:  # a target's bug must not stop the heartbeat
            log.exception("Heartbeat target raised", extra={"target": target.name})
            self._failed(target, HeartbeatReason.CONNECT, f"{target.name} raised {error!r}")

    def _failed(self, target: Target, reason: HeartbeatReason, error: str) -> None:
        self._series.failed(target.name, reason)
        log.warning(
            "Heartbeat not delivered",
            extra={"target": target.name, "reason": reason.value, "error": error},
        )
