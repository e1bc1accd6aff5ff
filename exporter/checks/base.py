"""What every check shares: statuses, typed results, the run it belongs to, and its type."""

from __future__ import annotations

import enum
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
from prometheus_client import CollectorRegistry

from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.registry import Stores
from exporter.logs.pipeline import LogPipeline
from exporter.session import KeptSession

OptionsT = TypeVar("OptionsT")
Schema = dict[str, Any]
# The most a check keeps back from its deadline for saying what was slow (RunInfo.own_deadline).
MAX_LEEWAY_SECONDS = 0.05
# Connections the shared HTTP client keeps open at once, over every check.
HTTP_CONNECTIONS = 100
# How long a store's connection is kept idle: past the default 30 s interval, within the idle
# timeouts stores and their proxies keep (Loki 120 s, nginx 75 s).
KEEP_SECONDS = 60.0


class Status(enum.Enum):
    """A check's verdict. ``warn`` still passes: HTTP 200, check_success 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class RunnerReason(enum.Enum):
    """Reasons the runner gives for any check, whatever its type."""

    TIMEOUT = "timeout"  # no result within the check's timeout
    EXCEPTION = "exception"  # the check raised


@dataclass(frozen=True)
class Component:
    """The part a check found at fault: a sink, a URL, a path."""

    kind: str
    id: str


@dataclass(frozen=True)
class Observed:
    """A value the check measured, in base units."""

    value: float
    unit: str


@dataclass(frozen=True)
class Part:
    """One of the parts a check looked at (each log sink, say) and what it said."""

    status: Status
    seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict: its status and, when not ok, the reason, the component and the error.

    ``detail`` goes into the check's entry of the answer as it is; ``parts`` are listed in the
    health+json answer under ``{check}:{measurement}``; ``cert_expiry`` sets the check's
    certificate expiry gauge.
    """

    status: Status
    reason: enum.Enum | None = None
    error: str | None = None
    component: Component | None = None
    observed: Observed | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    parts: Mapping[str, Part] = field(default_factory=dict)
    measurement: str = "result"
    cert_expiry: float | None = None  # Unix time the server's TLS certificate expires

    def __post_init__(self) -> None:
        if self.status is not Status.OK and self.reason is None:
            raise ValueError(f"a {self.status.value} result names its reason")

    @property
    def ok(self) -> bool:
        """True unless the check failed: a warning passes."""
        return self.status is not Status.FAIL


@dataclass(frozen=True)
class RunInfo:
    """The run a check belongs to."""

    run_id: str
    trigger: str
    deadline: float  # the event loop's time by which the runner stops waiting for the check
    timeout_seconds: float

    @property
    def own_deadline(self) -> float:
        """When a check should stop waiting itself: a little before ``deadline``, so that it,
        not the runner, says which step was slow."""
        return self.deadline - min(MAX_LEEWAY_SECONDS, self.timeout_seconds / 10)


class Check(Protocol):
    """A built check: an async function of the run."""

    def __call__(self, run: RunInfo, /) -> Awaitable[CheckResult]:
        """Look at what the check looks at; report, never raise."""


class SharedSession:
    """The app's aiohttp client sessions, opened and closed by a cleanup_ctx: one that keeps no
    connection (the http checks'), one that keeps them (the store checks')."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._kept: KeptSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session that opens a new connection for every request; a check reaches it at
        run time, once the app has started."""
        if self._session is None:
            raise RuntimeError("the shared HTTP client is not open: the app has not started")
        return self._session

    @property
    def kept(self) -> KeptSession:
        """The session that keeps connections between runs, for asking a store: a query a run
        then costs no new connection (a third of a store check's CPU, measured). A request it
        may repeat survives a kept connection closed under it (exporter/session.py)."""
        if self._kept is None:
            raise RuntimeError("the shared HTTP client is not open: the app has not started")
        return self._kept

    async def open(self) -> None:
        """Open both, each with one connection limit. The first keeps no connection for the
        next run: each run proves that the service takes a connection and a TLS handshake, and
        reads the certificate it presents now."""
        connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS, force_close=True)
        self._session = aiohttp.ClientSession(connector=connector)
        self._kept = KeptSession(HTTP_CONNECTIONS, KEEP_SECONDS)

    async def close(self) -> None:
        """Close the sessions and their connections."""
        if self._session is not None:
            await self._session.close()
        if self._kept is not None:
            await self._kept.close()
        self._session, self._kept = None, None


async def read_body(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more. It reads until the
    body ends: ``content.read(n)`` alone returns the first chunk that arrived."""
    data = bytearray()
    while len(data) < limit:
        chunk = await response.content.read(limit - len(data))
        if not chunk:
            return bytes(data), False
        data += chunk
    return bytes(data), bool(await response.content.read(1))


def connect_failure(error: aiohttp.ClientConnectorError) -> str:
    """Why a connection failed, as the errno says it: asyncio's own text repeats the address
    ("Connect call failed ('127.0.0.1', 9)")."""
    cause = error.os_error
    why = os.strerror(cause.errno) if cause.errno else str(cause.strerror or cause)
    return f"cannot connect to {error.host}:{error.port}: {why}"


@dataclass(frozen=True)
class CheckDeps:
    """What a check may take from the app when it is built."""

    logs: LogPipeline
    http: SharedSession
    registry: CollectorRegistry
    canaries: CanaryLedger  # numbers each canary a logging check writes
    stores: Stores  # what store checks keep across reloads


@dataclass(frozen=True)
class CheckType(Generic[OptionsT]):
    """One kind of check: its options (a frozen dataclass, read from the config file), how to
    build one, its fixed set of reasons, and the fields it adds to its answer (JSON Schema
    properties, for the OpenAPI document)."""

    options: type[OptionsT]
    build: Callable[[str, OptionsT, CheckDeps], Check]
    reasons: type[enum.Enum]
    summary: str
    detail_schema: Schema = field(default_factory=dict)
    unit: str | None = None  # of the value it observes, if it observes one

    @property
    def reason_values(self) -> tuple[str, ...]:
        """Its own reasons, then the runner's (one it shares, as logging's timeout, once)."""
        own = (str(r.value) for r in self.reasons)
        return tuple(dict.fromkeys([*own, *(r.value for r in RunnerReason)]))
