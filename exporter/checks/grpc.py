"""The ``grpc`` check: a server's ``grpc.health.v1.Health/Check`` answers SERVING, over TLS if
asked, in time."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.grpc_failure import (
    GrpcReason,
    Lost,
    Refused,
    Step,
    connection_failure,
    late,
    lost,
    serving_failure,
    status_failure,
)
from exporter.checks.grpc_options import GrpcOptions
from exporter.checks.secrets import Secrets
from exporter.checks.tls import TlsOptions, expiry_problem, watching_handshakes
from exporter.config import parse_listen_address
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
# gRPC runs over HTTP/2, which a TLS client offers by ALPN; gRPC servers close a connection
# that did not agree on it.
ALPN = ["h2"]
# One Health/Check call, given the seconds the server may take (sent as grpc-timeout) and the
# step to note its progress in: the name of the reply's serving status (SERVING, ...).
Call = Callable[[float, Step], Coroutine[Any, Any, str]]


@dataclass(frozen=True)
class Answer:
    """What the server said, when, and when its certificate expires."""

    seconds: float
    serving: str | None = None  # the health reply's status; None when a gRPC status came
    grpc_status: str = "OK"
    expires: float | None = None

    @property
    def detail(self) -> dict[str, str]:
        """The fields it adds to the check's entry of the answer."""
        if self.serving is None:
            return {"grpc_status": self.grpc_status}
        return {"grpc_status": self.grpc_status, "serving_status": self.serving}


def build(name: str, options: GrpcOptions, deps: CheckDeps) -> Check:
    """A check of one gRPC server's health service, on a connection of its own each run."""
    return GrpcCheck(options)


class GrpcCheck:
    """Connects, calls Health/Check and judges the reply; every step within the run's deadline."""

    def __init__(self, options: GrpcOptions) -> None:
        self._options = options
        target = parse_listen_address(options.address)  # checked when the options were read
        self._host, self._port = target.host or "", target.port
        self._component = Component("address", options.address)
        self._tls = options.tls is not False
        self._call = health_call(options, self._host, self._port, _context(options.tls))
        self._secrets = Secrets((options.token,), options.metadata)

    def _result(
        self, status: Status, reason: GrpcReason, error: str, answer: Answer | None = None
    ) -> CheckResult:
        return CheckResult(
            status,
            reason,
            self._secrets.redact(error),
            self._component,
            None if answer is None else Observed(answer.seconds, "s"),
            detail={} if answer is None else answer.detail,
            cert_expiry=None if answer is None else answer.expires,
        )

    async def __call__(self, run: RunInfo) -> CheckResult:
        step = Step()
        started = time.perf_counter()
        with watching_handshakes() as handshake:
            # grpclib wakes a call whose connection is lost by cancelling the task that waits
            # on it, and leaves that task cancelling() (grpclib.utils.Wrapper): the call gets a
            # task of its own, so the runner's task stays clean for its own timeout.
            call = asyncio.create_task(self._within(run, step))
            try:
                serving = await call
            except TimeoutError:
                error = late(step, run.timeout_seconds, self._tls)
                return self._result(Status.FAIL, GrpcReason.TIMEOUT, error)
            except Refused as refused:
                seconds = time.perf_counter() - started
                answer = Answer(seconds, None, refused.name, handshake.not_after)
                reason, error = status_failure(refused, self._options.service)
                return self._result(Status.FAIL, reason, error, answer)
            except Lost as error:
                return self._result(Status.FAIL, *lost(error))
            except OSError as error:  # ssl.SSLError included
                reason, why = connection_failure(error, self._options.address, self._host)
                return self._result(Status.FAIL, reason, why)
        seconds = time.perf_counter() - started
        return self._verdict(Answer(seconds, serving, "OK", handshake.not_after))

    async def _within(self, run: RunInfo, step: Step) -> str:
        """The call, cut short a little before the runner's deadline; the server is told the
        runner's deadline itself (grpc-timeout), so the check, not the server, says it was
        late."""
        seconds = run.deadline - asyncio.get_running_loop().time()
        async with asyncio.timeout_at(run.own_deadline):
            return await self._call(seconds, step)

    def _verdict(self, answer: Answer) -> CheckResult:
        """What a health reply says."""
        problem = self._problem(answer)
        if problem is not None:
            return self._result(*problem, answer)
        return CheckResult(
            Status.OK,
            component=self._component,
            observed=Observed(answer.seconds, "s"),
            detail=answer.detail,
            cert_expiry=answer.expires,
        )

    def _problem(self, answer: Answer) -> tuple[Status, GrpcReason, str] | None:
        """The first thing wrong with a reply, in order: its status, the certificate, the
        speed; or None."""
        o = self._options
        not_serving = serving_failure(answer.serving or "", o.service)
        if not_serving is not None:
            return Status.FAIL, GrpcReason.NOT_SERVING, not_serving
        if answer.expires is not None:
            expiry = expiry_problem(answer.expires, o.min_cert_days)
            if expiry is not None:
                return expiry[0], GrpcReason.CERT_EXPIRY, expiry[1]
        if o.warn_after is not None and answer.seconds > o.warn_after:
            slow = f"answered in {answer.seconds:.3f}s, slower than warn_after {o.warn_after:g}s"
            return Status.WARN, GrpcReason.TIMEOUT, slow
        return None


def _context(tls: bool | TlsOptions) -> ssl.SSLContext | None:
    """The check's TLS client context, offering HTTP/2: its own, never the default context
    the http checks share (``tls: true`` makes one with the system's CAs)."""
    if tls is False:
        return None
    context = (TlsOptions() if tls is True else tls).context
    context.set_alpn_protocols(ALPN)
    return context


def health_call(options: GrpcOptions, host: str, port: int, context: ssl.SSLContext | None) -> Call:
    """The Health/Check call, made with grpclib's client and grpc_health's messages, each on
    a new connection; a gRPC status raises Refused, a lost connection Lost."""
    # Imported when a grpc check is built, never when the exporter starts: grpclib, h2 and
    # protobuf add to every process's memory. grpc_health's messages, not grpclib's copy:
    # a gRPC service the smoke test runs inside has most likely loaded them, and protobuf
    # refuses a second definition of grpc.health.v1 in its pool.
    from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse  # noqa: PLC0415
    from grpclib.client import Channel, UnaryUnaryMethod  # noqa: PLC0415
    from grpclib.config import Configuration  # noqa: PLC0415
    from grpclib.exceptions import GRPCError, StreamTerminatedError  # noqa: PLC0415

    request = HealthCheckRequest(service=options.service)
    metadata = options.sent_metadata
    server_name = options.tls.server_name if isinstance(options.tls, TlsOptions) else None
    config = Configuration(ssl_target_name_override=server_name)
    names = {number: name for name, number in HealthCheckResponse.ServingStatus.items()}

    async def call(seconds: float, step: Step) -> str:
        channel = Channel(host, port, ssl=context, config=config)
        method = UnaryUnaryMethod(channel, HEALTH_CHECK, HealthCheckRequest, HealthCheckResponse)
        try:
            async with method.open(timeout=seconds, metadata=metadata) as stream:
                await stream.send_request()
                step.at = "answer"
                await stream.send_message(request, end=True)
                reply = await stream.recv_message()
        except GRPCError as error:
            raise Refused(error.status.name, error.status.value) from None
        except StreamTerminatedError as error:
            raise Lost(str(error)) from None
        finally:
            channel.close()
        if reply is None:
            raise Refused("OK", 0)  # status OK, and no reply: status_failure says so
        return names.get(reply.status, f"status {reply.status}")

    return call


TYPE = CheckType(
    GrpcOptions,
    build,
    GrpcReason,
    "a gRPC server's health service answers SERVING, in time",
    detail_schema={
        "grpc_status": {
            "type": "string",
            "description": "The gRPC status of the call, as OK or NOT_FOUND.",
        },
        "serving_status": {
            "type": "string",
            "description": "The health reply's status, as SERVING or NOT_SERVING.",
        },
    },
    unit="s",
)
