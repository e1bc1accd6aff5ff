"""The ``tcp`` check: an address resolves, takes a connection, and answers a banner exchange."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.secrets import Secrets
from exporter.checks.tls import (
    TlsOptions,
    client_context,
    expiry_problem,
    not_after,
    verify_failure,
)
from exporter.config import parse_listen_address
from exporter.options import Invalid, Seconds
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

# The most a banner exchange reads while it looks for expect_regex.
MAX_BANNER_BYTES = 64 * 1024
# How much of a banner that did not match the error quotes: its start, escaped, with what the
# check sent redacted (a server may echo it: "ERR unknown command 'AUTH hunter2'").
QUOTED_CHARS = 64


class TcpReason(enum.Enum):
    """Why a tcp check is not ok."""

    RESOLVE = "resolve"  # the host name has no address
    CONNECT = "connect"  # the connection was refused or failed
    TIMEOUT = "timeout"  # no connection or banner in time; or, as a warning, a slow connect
    BANNER = "banner"  # the answer did not match expect_regex
    TLS = "tls"  # the handshake failed, or the certificate was not trusted
    CERT_EXPIRY = "cert_expiry"  # the certificate has expired, or (warn) does within min_cert_days


@dataclass(frozen=True)
class TcpOptions:
    """``type: tcp``: where to connect, an optional exchange, and when a connect is slow."""

    address: str
    send: str | None = field(default=None, repr=False)  # may carry a password
    expect_regex: str | None = None
    warn_after: Seconds | None = None
    tls: bool | TlsOptions = False
    min_cert_days: float | None = None

    def __post_init__(self) -> None:
        if self.min_cert_days is not None and self.min_cert_days < 0:
            raise Invalid("min_cert_days", f"{self.min_cert_days:g} must not be negative")
        if self.min_cert_days is not None and self.tls is False:
            raise Invalid("min_cert_days", "needs tls")
        try:
            parsed = parse_listen_address(self.address)
        except ValueError as error:
            raise Invalid("address", str(error)) from None
        if parsed.host is None or parsed.port == 0:
            raise Invalid("address", f"{self.address!r} needs a host and a port, as db:5432")
        if self.expect_regex is not None:
            try:
                re.compile(self.expect_regex.encode())
            except re.error as error:
                raise Invalid("expect_regex", f"not a regular expression: {error}") from None


@dataclass
class _Probe:
    """How far one probe got: its step, the connect time, what was wrong with the banner."""

    step: str = "resolve"
    connected: float | None = None
    problem: str | None = None
    expires: float | None = None


def build(name: str, options: TcpOptions, deps: CheckDeps) -> Check:
    """A check of one TCP address."""
    return TcpCheck(options)


class TcpCheck:
    """Resolves, connects, then sends and reads as configured; every step within the deadline."""

    def __init__(self, options: TcpOptions) -> None:
        self._options = options
        target = parse_listen_address(options.address)  # checked when the options were read
        self._host, self._port = target.host or "", target.port
        self._component = Component("address", options.address)
        self._expect = re.compile(options.expect_regex.encode()) if options.expect_regex else None
        tls = options.tls
        self._server_name = None if isinstance(tls, bool) else tls.server_name
        self._ssl = None if tls is False else client_context(None if tls is True else tls)
        self._secrets = Secrets((options.send,))

    def _fail(self, reason: TcpReason, error: str, seconds: float | None = None) -> CheckResult:
        observed = None if seconds is None else Observed(seconds, "s")
        return CheckResult(Status.FAIL, reason, error, self._component, observed)

    def _tls_failure(self, error: ssl.SSLError, probe: _Probe) -> CheckResult:
        """A failed handshake: an expired certificate, or any other TLS failure."""
        if isinstance(error, ssl.SSLCertVerificationError):
            expired, why = verify_failure(error)
            reason = TcpReason.CERT_EXPIRY if expired else TcpReason.TLS
            return self._fail(reason, why, probe.connected)
        return self._fail(
            TcpReason.TLS, f"TLS handshake failed: {error.reason or error}", probe.connected
        )

    async def __call__(self, run: RunInfo) -> CheckResult:
        probe = _Probe()
        try:
            await self._probe(run, probe)
        except socket.gaierror as error:
            return self._fail(TcpReason.RESOLVE, f"cannot resolve {self._host}: {error.strerror}")
        except TimeoutError:
            what = {"resolve": "no address", "connect": "no connection", "tls": "no TLS handshake"}
            error_text = f"{what.get(probe.step, 'no banner')} within {run.timeout_seconds:g}s"
            return self._fail(TcpReason.TIMEOUT, error_text, probe.connected)
        except ssl.SSLError as error:
            return self._tls_failure(error, probe)
        except OSError as error:
            return self._lost(error, probe)
        return self._verdict(probe)

    def _lost(self, error: OSError, probe: _Probe) -> CheckResult:
        """A connection that failed, or was lost in the handshake or the exchange."""
        if probe.step == "tls":
            lost = f"connection lost in the TLS handshake: {error}"
            return self._fail(TcpReason.TLS, lost, probe.connected)
        if probe.step == "banner":
            lost = f"connection lost in the exchange: {error}"
            return self._fail(TcpReason.BANNER, lost, probe.connected)
        why = os.strerror(error.errno) if error.errno else str(error)
        return self._fail(TcpReason.CONNECT, f"cannot connect to {self._options.address}: {why}")

    def _verdict(self, probe: _Probe) -> CheckResult:
        """What a probe that went all the way says."""
        o = self._options
        connected = probe.connected or 0.0
        if probe.problem is not None:
            return self._fail(TcpReason.BANNER, probe.problem, connected)
        observed = Observed(connected, "s")
        expiry = None if probe.expires is None else expiry_problem(probe.expires, o.min_cert_days)
        if expiry is not None:
            status, error = expiry
            return CheckResult(
                status,
                TcpReason.CERT_EXPIRY,
                error,
                self._component,
                observed,
                cert_expiry=probe.expires,
            )
        if o.warn_after is not None and connected > o.warn_after:
            slow = f"connected in {connected:.3f}s, slower than warn_after {o.warn_after:g}s"
            return CheckResult(
                Status.WARN,
                TcpReason.TIMEOUT,
                slow,
                self._component,
                observed,
                cert_expiry=probe.expires,
            )
        return CheckResult(
            Status.OK, component=self._component, observed=observed, cert_expiry=probe.expires
        )

    async def _probe(self, run: RunInfo, probe: _Probe) -> None:
        """Resolve, connect and exchange, noting in ``probe`` how far it got; raises on the
        way (TimeoutError a little before the runner's deadline)."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        async with asyncio.timeout_at(run.own_deadline):
            infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
            probe.step = "connect"
            family, _, _, _, address = infos[0]
            reader, writer = await asyncio.open_connection(
                str(address[0]), self._port, family=family
            )
            probe.connected = time.perf_counter() - t0
            try:
                if self._ssl is not None:
                    probe.step = "tls"
                    await writer.start_tls(
                        self._ssl, server_hostname=self._server_name or self._host
                    )
                    probe.expires = not_after(writer.get_extra_info("ssl_object"))
                probe.step = "banner"
                probe.problem = await self._exchange(reader, writer)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str | None:
        """Send ``send`` and read until ``expect_regex`` matches; why not, or None."""
        if self._options.send is not None:
            writer.write(self._options.send.encode())
            await writer.drain()
        if self._expect is None:
            return None
        pattern = self._expect.pattern.decode()
        data = b""
        while len(data) < MAX_BANNER_BYTES:
            chunk = await reader.read(MAX_BANNER_BYTES - len(data))
            if not chunk:
                said = self._secrets.quote(data.decode(errors="replace"), QUOTED_CHARS)
                return f"closed after {len(data)} bytes with no match for {pattern!r}: {said!r}"
            data += chunk
            if self._expect.search(data):
                return None
        return f"no match for {pattern!r} in the first {MAX_BANNER_BYTES} bytes"


TYPE = CheckType(
    TcpOptions,
    build,
    TcpReason,
    "an address resolves, takes a connection, and answers a banner exchange",
    unit="s",
)
