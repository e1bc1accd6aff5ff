"""A real grpcio server on loopback for the grpc check's tests: grpcio-health-checking's
HealthServicer (or no health service), plain or TLS, and an interceptor that refuses a call
without the metadata it wants."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.certs import CA, Pair

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


@dataclass
class Seen:
    """The metadata of each call the server was sent, in order."""

    calls: list[dict[str, str | bytes]] = field(default_factory=list)


class Requires(grpc.ServerInterceptor):
    """Refuses, UNAUTHENTICATED, a call without every one of ``wanted`` (key: value); its
    message quotes all the metadata it was sent, as a careless server's might."""

    def __init__(self, wanted: Mapping[str, str], seen: Seen) -> None:
        self._wanted = dict(wanted)
        self._seen = seen

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        sent = dict(details.invocation_metadata)
        self._seen.calls.append(sent)
        if all(sent.get(key) == value for key, value in self._wanted.items()):
            return continuation(details)

        def refuse(request: bytes, context: grpc.ServicerContext) -> bytes:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"refused, with metadata {sent!r}")
            raise AssertionError("abort raises")

        return grpc.unary_unary_rpc_method_handler(refuse)


@dataclass
class Server:
    """A started server: its port, and its health servicer (None without one)."""

    port: int
    health: health.HealthServicer | None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set(self, service: str, status: int) -> None:
        """Make Check about ``service`` answer ``status`` (SERVING, NOT_SERVING, ...)."""
        assert self.health is not None
        self.health.set(service, status)


def credentials(ca: CA, pair: Pair, client_ca: CA | None = None) -> grpc.ServerCredentials:
    """TLS with ``pair``'s certificate; requiring a client certificate of ``client_ca``."""
    return grpc.ssl_server_credentials(
        [(pair.key.read_bytes(), pair.cert.read_bytes())],
        root_certificates=None if client_ca is None else client_ca.cert.read_bytes(),
        require_client_auth=client_ca is not None,
    )


@contextlib.contextmanager
def grpc_server(
    *,
    with_health: bool = True,
    tls: grpc.ServerCredentials | None = None,
    interceptors: tuple[grpc.ServerInterceptor, ...] = (),
    port: int = 0,
) -> Iterator[Server]:
    """A grpcio server on 127.0.0.1 (any free port by default) with the HealthServicer, or
    with no service at all; stopped, its threads joined, on the way out."""
    pool = futures.ThreadPoolExecutor(max_workers=4)
    server = grpc.server(pool, interceptors=list(interceptors))
    servicer = health.HealthServicer() if with_health else None
    if servicer is not None:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    where = f"127.0.0.1:{port}"
    bound = server.add_secure_port(where, tls) if tls else server.add_insecure_port(where)
    assert bound, f"grpcio could not bind {where}"
    server.start()
    try:
        yield Server(bound, servicer)
    finally:
        server.stop(grace=None).wait()
        pool.shutdown(wait=True)
