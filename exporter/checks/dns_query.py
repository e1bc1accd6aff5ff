"""The ``dns`` check itself: asks the server with dnspython's asyncio API and judges the answer.
Imported only when a dns check is built (exporter.checks.dns.build)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from exporter.checks.dns_options import (
    LISTED_CHARS,
    MAX_LISTED,
    DnsOptions,
    DnsReason,
    Protocol,
)
from exporter.verdict import CheckResult, Component, Observed, RunInfo, Status

# The UDP payload the query offers with EDNS: DNS Flag Day 2020's, small enough not to be
# fragmented; a longer answer comes truncated and is asked again over TCP.
EDNS_PAYLOAD = 1232


class DnsCheck:
    """Asks one server for one name and type, within the run's deadline, and judges the rcode
    and the answers of that type."""

    def __init__(self, options: DnsOptions) -> None:
        self._options = options
        self._name = dns.name.from_text(options.query_name)
        self._rdtype = dns.rdatatype.from_text(options.query_type.value)
        self._expect = [re.compile(pattern) for pattern in options.expect]
        self._component = Component("server", options.address)
        self._backend = dns.asyncbackend.get_backend("asyncio")
        self._family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        self._asked = f"{options.query_name} {options.query_type.value}"

    def _fail(self, reason: DnsReason, error: str) -> CheckResult:
        return CheckResult(Status.FAIL, reason, error, self._component)

    async def __call__(self, run: RunInfo) -> CheckResult:
        o = self._options
        where = f"{o.address} over {o.protocol.value}"
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(run.own_deadline):
                response = await self._ask()
        except TimeoutError:
            return self._fail(
                DnsReason.TIMEOUT, f"no answer from {where} within {run.timeout_seconds:g}s"
            )
        except OSError as error:
            # asyncio's connect errors carry a text of their own: the errno's is the cause
            why = os.strerror(error.errno) if error.errno else type(error).__name__
            return self._fail(DnsReason.CONNECT, f"cannot reach {where}: {why}")
        except EOFError:  # dnspython's, for a TCP connection closed before a whole answer
            return self._fail(DnsReason.CONNECT, f"{where}: closed before a whole answer")
        except dns.exception.DNSException as error:
            # A reply that is no DNS message, or not the answer to this query: named by its
            # type, as dnspython's texts may quote what the server sent.
            return self._fail(
                DnsReason.CONNECT, f"no valid answer from {where}: {type(error).__name__}"
            )
        return self._verdict(response, time.perf_counter() - started)

    async def _ask(self) -> dns.message.Message:
        """The server's answer to a new query (a new id each time)."""
        o = self._options
        query = dns.message.make_query(self._name, self._rdtype, use_edns=0, payload=EDNS_PAYLOAD)
        if o.protocol is Protocol.TCP:
            return await dns.asyncquery.tcp(query, o.host, port=o.port, backend=self._backend)
        # A connected socket: a port nobody listens on is refused at once (ICMP port
        # unreachable), where dnspython's own unconnected one would wait for the deadline.
        destination = (o.host, o.port)
        make_socket = self._backend.make_socket
        udp = await make_socket(self._family, socket.SOCK_DGRAM, 0, None, destination)  # type: ignore[no-untyped-call]
        async with udp:
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, o.host, port=o.port, udp_sock=udp, backend=self._backend
            )
        return response

    def _verdict(self, response: dns.message.Message, seconds: float) -> CheckResult:
        """What a whole answer says: its rcode, its answers of query_type, and its speed."""
        rcode = dns.rcode.to_text(response.rcode())
        answers = [
            rdata.to_text()
            for rrset in response.answer
            if rrset.rdtype == self._rdtype and rrset.rdclass == dns.rdataclass.IN
            for rdata in rrset
        ]
        listed = [_cut(answer) for answer in answers[:MAX_LISTED]]
        problem = self._problem(rcode, answers, seconds)
        status, reason, error = problem if problem else (Status.OK, None, None)
        return CheckResult(
            status,
            reason,
            error,
            self._component,
            Observed(seconds, "s"),
            detail={"rcode": rcode, "answers": listed},
        )

    def _problem(
        self, rcode: str, answers: list[str], seconds: float
    ) -> tuple[Status, DnsReason, str] | None:
        """The first thing wrong, in order: rcode, how many answers, expect, speed; or None."""
        o = self._options
        if rcode != o.expect_rcode.value:
            wrong = f"{self._asked}: rcode {rcode}, expected {o.expect_rcode.value}"
            return Status.FAIL, DnsReason.RCODE, wrong
        if len(answers) < o.least_answers:
            few = f"{self._asked}: {_count(answers)}, expected at least {o.least_answers}"
            return Status.FAIL, DnsReason.NO_ANSWER, few
        for pattern in self._expect:
            if not any(pattern.search(answer) for answer in answers):
                missed = f"{self._asked}: no answer matches {pattern.pattern!r}"
                return Status.FAIL, DnsReason.ANSWER, f"{missed} ({_count(answers)})"
        if o.warn_after is not None and seconds > o.warn_after:
            slow = f"answered in {seconds:.3f}s, slower than warn_after {o.warn_after:g}s"
            return Status.WARN, DnsReason.TIMEOUT, slow
        return None


def _count(answers: list[str]) -> str:
    return f"{len(answers)} answer{'' if len(answers) == 1 else 's'}"


def _cut(text: str) -> str:
    return text if len(text) <= LISTED_CHARS else text[: LISTED_CHARS - 1] + "…"
