"""The Pushgateway heartbeat: the run's success, last-run time, runs and interval, pushed with
PUT (the group replaced whole) under the job and this exporter's instance."""

from __future__ import annotations

import asyncio
import http.client
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
        self._pushing: asyncio.Future[None] | None = None

    async def send(self, result: RunResult) -> None:
        # A push the heartbeat's timeout gave up on goes on in its thread until its socket
        # times out: the next push waits for it, so older values never land after newer ones.
        if self._pushing is not None and not self._pushing.done():
            await asyncio.wait([self._pushing])
        self._pushing = pushing = asyncio.ensure_future(asyncio.to_thread(self._push))
        # Its outcome is this send's; if the send is cancelled, no one else reads it.
        pushing.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(pushing)

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
        except http.client.RemoteDisconnected:  # before HTTPException: it is one, and an OSError
            raise HeartbeatError(
                HeartbeatReason.CONNECT, f"{self._options.url}: closed with no answer"
            ) from None
        except http.client.HTTPException as error:  # a status line or body that is not HTTP
            raise HeartbeatError(
                HeartbeatReason.STATUS,
                f"{self._options.url}: no HTTP answer ({type(error).__name__})",
            ) from None
        except OSError as error:  # reset while the answer was read
            why = error.strerror or str(error)
            raise HeartbeatError(HeartbeatReason.CONNECT, f"{self._options.url}: {why}") from None
