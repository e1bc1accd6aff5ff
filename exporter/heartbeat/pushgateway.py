"""The Pushgateway heartbeat: the run's success, last-run time, runs and interval, pushed with
PUT (the group replaced whole) under the job and this exporter's instance."""

from __future__ import annotations

import asyncio
import socket
import urllib.error

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import push_to_gateway

from exporter.heartbeat.options import PushgatewayOptions
from exporter.heartbeat.sender import HeartbeatError, HeartbeatReason
from exporter.run.results import RunResult

# The series pushed: what SmokeTestHeartbeatMissing and a dashboard need of a silent exporter.
PUSHED = (
    "smoke_test_success",
    "smoke_test_last_run_timestamp_seconds",
    "smoke_test_runs_total",
    "smoke_test_interval_seconds",
)


class Pushgateway:
    """Pushes a view of the app's registry, so the values are the ones /metrics shows."""

    name = "pushgateway"

    def __init__(
        self,
        options: PushgatewayOptions,
        registry: CollectorRegistry,
        instance: str,
        timeout: float,
    ) -> None:
        self._options = options
        self._view = registry.restricted_registry(PUSHED)
        self._instance = instance
        self._timeout = timeout

    async def send(self, result: RunResult) -> None:
        await asyncio.to_thread(self._push)

    def _push(self) -> None:
        try:
            push_to_gateway(
                self._options.url,
                job=self._options.job,
                registry=self._view,
                grouping_key={"instance": self._instance},
                timeout=self._timeout,
            )
        except urllib.error.HTTPError as error:
            raise HeartbeatError(HeartbeatReason.STATUS, f"status {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                raise HeartbeatError(HeartbeatReason.TIMEOUT, str(error.reason)) from None
            why = getattr(error.reason, "strerror", None) or str(error.reason)
            raise HeartbeatError(HeartbeatReason.CONNECT, f"{self._options.url}: {why}") from None
        except TimeoutError as error:
            raise HeartbeatError(HeartbeatReason.TIMEOUT, str(error) or "timed out") from None
