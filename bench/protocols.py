"""The servers the footprint's grpc, dns and websocket checks call, on 127.0.0.1: grpcio with
grpcio-health-checking's HealthServicer, Debian's dnsmasq in the foreground, and bench.echo."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from bench.procs import free_port, server
from bench.runs import WRK_CPU

DNSMASQ = "/usr/sbin/dnsmasq"
ZONE = "bench.test"
NAME = f"www.{ZONE}"  # the dns check's query: an A record dnsmasq serves from its flags
DEADLINE = 10.0


@dataclass(frozen=True)
class Peers:
    """Where each started server listens."""

    grpc: str  # host:port
    dns: str  # host:port
    websocket: str  # ws:// URL


def check(kind: str, peers: Peers) -> dict[str, Any]:
    """One check of ``kind`` (grpc, dns or websocket), as a config file lists it, that passes
    against ``peers``."""
    if kind == "grpc":
        return {"name": "grpc", "type": "grpc", "address": peers.grpc}
    if kind == "dns":
        return {"name": "dns", "type": "dns", "query_name": NAME, "server": peers.dns}
    if kind == "websocket":
        return {
            "name": "websocket",
            "type": "websocket",
            "url": peers.websocket,
            "send": "ping",
            "expect_regex": "^ping$",
        }
    raise ValueError(f"no server for a {kind} check")


@contextlib.contextmanager
def grpc_health() -> Iterator[str]:
    """A grpcio server whose HealthServicer answers SERVING for the whole server ("")."""
    pool = futures.ThreadPoolExecutor(max_workers=2)
    grpc_server = grpc.server(pool)
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        grpc_server.stop(grace=None).wait()
        pool.shutdown(wait=True)


def _free_udp_and_tcp_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def dnsmasq(log: Path) -> Iterator[str]:
    """dnsmasq serving NAME alone, on its own flags (no /etc/dnsmasq.conf, resolv.conf or hosts
    file); up once it takes a TCP connection, which it binds with its UDP socket."""
    port = _free_udp_and_tcp_port()
    flags = [
        *("--no-daemon", "--log-facility=-", "--conf-file=/dev/null"),
        *("--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces"),
        *("--listen-address=127.0.0.1", f"--port={port}", f"--local=/{ZONE}/"),
        f"--host-record={NAME},192.0.2.1",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["taskset", "-c", str(WRK_CPU), DNSMASQ, *flags],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + DEADLINE
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dnsmasq did not start on {port}: {log.read_text()}")
            time.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(DEADLINE)


@contextlib.contextmanager
def websocket_echo() -> Iterator[str]:
    """bench.echo, on the other CPU than the exporter's."""
    port = free_port()
    command = [sys.executable, "-m", "bench.echo", str(port)]
    with server(command, f"http://127.0.0.1:{port}/", cpu=WRK_CPU):
        yield f"ws://127.0.0.1:{port}/"


@contextlib.contextmanager
def peers(work: Path) -> Iterator[Peers]:
    """All three, started; stopped on the way out."""
    with (
        grpc_health() as grpc_address,
        dnsmasq(work / "dnsmasq.log") as dns_address,
        websocket_echo() as url,
    ):
        yield Peers(grpc_address, dns_address, url)
