"""The dns check against a real dnsmasq on loopback: each record type, NXDOMAIN, answers that
do not match or do not come, a silent server, a refused one, TCP, and its options."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.dns import TYPE
from exporter.checks.dns_options import (
    LISTED_CHARS,
    MAX_LISTED,
    DnsOptions,
    DnsReason,
    system_server,
)
from exporter.checks.stores.registry import Stores
from exporter.options import Invalid, OptionError, Seconds, load_options
from exporter.session import SharedSession
from exporter.verdict import CheckResult, Component, Status
from tests.support.check_runs import run
from tests.support.dnsmasq import ZONE, Dnsmasq, dnsmasq
from tests.support.sockets import refused_port

BIG_TXT = ["a" * 200, "b" * 200, "c" * 200, "d" * 200, "e" * 200, "f" * 200, "g" * 200]
RECORDS = [
    f"--auth-server=ns1.{ZONE},127.0.0.1",  # serves the zone's NS record
    f"--auth-zone={ZONE}",
    f"--host-record=ns1.{ZONE},127.0.0.1",
    f"--host-record=www.{ZONE},192.0.2.10,2001:db8::10",
    f"--cname=alias.{ZONE},www.{ZONE}",
    f"--mx-host={ZONE},mail.{ZONE},10",
    f"--host-record=mail.{ZONE},192.0.2.25",
    f"--txt-record={ZONE},v=spf1 -all",
    f"--srv-host=_sip._tcp.{ZONE},sip.{ZONE},5060,1,2",
    # 7 strings of 200 bytes: over the query's EDNS payload, so it comes truncated over UDP
    f"--txt-record=big.{ZONE},{','.join(BIG_TXT)}",
    # 12 addresses: more than the entry lists
    *(f"--host-record=many.{ZONE},192.0.2.{i}" for i in range(100, 112)),
]
ALSO = ("name", "type", "timeout")


def options(data: dict[str, Any], directory: Path = Path(".")) -> DnsOptions:
    """Options as the config file gives them, for the check's first entry."""
    loaded: DnsOptions = load_options(TYPE.options, data, "checks[0]", directory, ALSO)
    return loaded


def deps() -> CheckDeps:
    registry = CollectorRegistry()
    ledger = CanaryLedger("test")
    return CheckDeps(None, SharedSession(), registry, ledger, Stores(registry, ledger))


async def check(server: str, query_name: str, seconds: float = 1.0, **more: Any) -> CheckResult:
    """One run, within ``seconds``, of a check built as the exporter builds it."""
    return await check_of(options({"query_name": query_name, "server": server, **more}), seconds)


async def check_of(given: DnsOptions, seconds: float = 1.0) -> CheckResult:
    return await TYPE.build("dns", given, deps())(run(seconds))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    with dnsmasq(tmp_path_factory.mktemp("dnsmasq"), RECORDS) as server:
        yield server


@pytest.mark.parametrize(
    ("name", "query_type", "answers"),
    [
        (f"www.{ZONE}", "A", ["192.0.2.10"]),
        (f"www.{ZONE}", "AAAA", ["2001:db8::10"]),
        (f"alias.{ZONE}", "CNAME", [f"www.{ZONE}."]),
        (f"alias.{ZONE}", "A", ["192.0.2.10"]),  # through the CNAME, which is not counted
        (ZONE, "MX", [f"10 mail.{ZONE}."]),
        (ZONE, "TXT", ['"v=spf1 -all"']),
        (f"_sip._tcp.{ZONE}", "SRV", [f"1 2 5060 sip.{ZONE}."]),
        (ZONE, "NS", [f"ns1.{ZONE}."]),
    ],
)
async def test_each_record_type_resolves_with_its_answers_listed(
    served: Dnsmasq, name: str, query_type: str, answers: list[str]
) -> None:
    result = await check(served.address, name, query_type=query_type)
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.component == Component("server", served.address)
    assert result.detail == {"rcode": "NOERROR", "answers": answers}
    assert result.observed is not None
    assert result.observed.unit == "s"
    assert 0 < result.observed.value < 1


@pytest.mark.parametrize(
    ("name", "query_type", "expect"),
    [
        (f"www.{ZONE}", "A", [r"^192\.0\.2\.10$"]),
        (ZONE, "MX", [r"^10 mail\.example\.test\.$"]),
        (ZONE, "TXT", ["v=spf1", r"-all\"$"]),
        (f"_sip._tcp.{ZONE}", "SRV", [r" 5060 sip\."]),
    ],
)
async def test_expect_matching_an_answer_passes(
    served: Dnsmasq, name: str, query_type: str, expect: list[str]
) -> None:
    result = await check(served.address, name, query_type=query_type, expect=expect)
    assert (result.status, result.error) == (Status.OK, None)


async def test_an_expect_that_matches_no_answer_fails_with_answer(served: Dnsmasq) -> None:
    result = await check(served.address, ZONE, query_type="MX", expect=[r"mail\.", r"^20 backup\."])
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.ANSWER,
        "example.test MX: no answer matches '^20 backup\\\\.' (1 answer)",
    )
    assert result.detail == {"rcode": "NOERROR", "answers": [f"10 mail.{ZONE}."]}
    assert result.observed is not None  # it did answer


async def test_nxdomain_fails_with_rcode_naming_it(served: Dnsmasq) -> None:
    result = await check(served.address, f"nope.{ZONE}")
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.RCODE,
        "nope.example.test A: rcode NXDOMAIN, expected NOERROR",
    )
    assert result.component == Component("server", served.address)
    assert result.detail == {"rcode": "NXDOMAIN", "answers": []}
    assert result.observed is not None


async def test_an_expected_nxdomain_passes_and_a_noerror_then_fails(served: Dnsmasq) -> None:
    gone = await check(served.address, f"nope.{ZONE}", expect_rcode="NXDOMAIN")
    assert (gone.status, gone.error) == (Status.OK, None)  # min_answers is 0 then
    there = await check(served.address, f"www.{ZONE}", expect_rcode="NXDOMAIN")
    assert (there.reason, there.error) == (
        DnsReason.RCODE,
        "www.example.test A: rcode NOERROR, expected NXDOMAIN",
    )


async def test_fewer_answers_than_min_answers_fail_with_no_answer(served: Dnsmasq) -> None:
    result = await check(served.address, f"www.{ZONE}", min_answers=2)
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.NO_ANSWER,
        "www.example.test A: 1 answer, expected at least 2",
    )
    # A name with no record of the type: NOERROR, and no answer.
    empty = await check(served.address, f"mail.{ZONE}", query_type="AAAA")
    assert (empty.status, empty.reason, empty.error) == (
        Status.FAIL,
        DnsReason.NO_ANSWER,
        "mail.example.test AAAA: 0 answers, expected at least 1",
    )
    assert empty.detail == {"rcode": "NOERROR", "answers": []}
    # A CNAME alone, with no MX behind it, is no answer of type MX.
    assert (await check(served.address, f"alias.{ZONE}", query_type="MX")).reason is (
        DnsReason.NO_ANSWER
    )


async def test_all_answers_count_and_the_first_ten_are_listed(served: Dnsmasq) -> None:
    result = await check(
        served.address, f"many.{ZONE}", min_answers=12, expect=[r"^192\.0\.2\.111$"]
    )
    assert (result.status, result.error) == (Status.OK, None)
    listed = result.detail["answers"]
    assert len(listed) == MAX_LISTED
    assert set(listed) < {f"192.0.2.{i}" for i in range(100, 112)}
    too_many = await check(served.address, f"many.{ZONE}", min_answers=13)
    assert too_many.error == "many.example.test A: 12 answers, expected at least 13"


async def test_a_truncated_udp_answer_is_asked_again_over_tcp_and_listed_cut(
    served: Dnsmasq,
) -> None:
    result = await check(served.address, f"big.{ZONE}", query_type="TXT", expect=["g{200}"])
    assert (result.status, result.error) == (Status.OK, None)
    whole = " ".join(f'"{text}"' for text in BIG_TXT)
    assert result.detail["answers"] == [whole[: LISTED_CHARS - 1] + "…"]


async def test_protocol_tcp_asks_over_tcp(served: Dnsmasq) -> None:
    result = await check(served.address, ZONE, query_type="MX", protocol="tcp")
    assert (result.status, result.error) == (Status.OK, None)
    assert result.detail == {"rcode": "NOERROR", "answers": [f"10 mail.{ZONE}."]}
    nxdomain = await check(served.address, f"nope.{ZONE}", protocol="tcp")
    assert nxdomain.error == "nope.example.test A: rcode NXDOMAIN, expected NOERROR"


async def test_a_slow_answer_warns_after_warn_after(served: Dnsmasq) -> None:
    given = options({"query_name": f"www.{ZONE}", "server": served.address, "warn_after": "5s"})
    # Any real answer takes longer than a nanosecond.
    result = await check_of(dataclasses.replace(given, warn_after=Seconds(1e-9)))
    assert (result.status, result.reason) == (Status.WARN, DnsReason.TIMEOUT)
    assert result.observed is not None
    assert result.error == (
        f"answered in {result.observed.value:.3f}s, slower than warn_after 1e-09s"
    )
    fast = await check_of(given)
    assert (fast.status, fast.reason) == (Status.OK, None)


class Silent(asyncio.DatagramProtocol):
    """A UDP server that reads every query and answers none."""

    def __init__(self) -> None:
        self.read = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.read += 1


@contextlib.asynccontextmanager
async def udp_server(protocol: asyncio.DatagramProtocol) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


async def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    silent = Silent()
    async with udp_server(silent) as port:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await check(f"127.0.0.1:{port}", f"www.{ZONE}", seconds=0.5)
        elapsed = loop.time() - started
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.TIMEOUT,
        f"no answer from 127.0.0.1:{port} over udp within 0.5s",
    )
    assert result.observed is None
    assert silent.read == 1
    assert 0.4 <= elapsed < 0.5


class Garbage(asyncio.DatagramProtocol):
    """A UDP server that answers every query with bytes that are no DNS message."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.transport.sendto(b"\x00\x01garbage", addr)


async def test_a_reply_that_is_no_dns_message_fails_with_connect() -> None:
    async with udp_server(Garbage()) as port:
        result = await check(f"127.0.0.1:{port}", f"www.{ZONE}")
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.CONNECT,
        f"no valid answer from 127.0.0.1:{port} over udp: ShortHeader",
    )


@pytest.mark.parametrize(("host", "protocol"), [("127.0.0.1", "udp"), ("127.0.0.1", "tcp")])
async def test_a_refused_port_fails_at_once_with_connect(host: str, protocol: str) -> None:
    port = refused_port()
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await check(f"{host}:{port}", f"www.{ZONE}", protocol=protocol, seconds=5)
    assert loop.time() - started < 2  # the ICMP answer, or the RST: not the timeout
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.CONNECT,
        f"cannot reach {host}:{port} over {protocol}: Connection refused",
    )
    assert result.component == Component("server", f"{host}:{port}")


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_an_ipv6_server_is_asked_over_ipv6(protocol: str) -> None:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET6, kind) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    result = await check(f"[::1]:{port}", f"www.{ZONE}", protocol=protocol)
    assert (result.reason, result.error) == (
        DnsReason.CONNECT,
        f"cannot reach [::1]:{port} over {protocol}: Connection refused",
    )


async def test_a_tcp_server_that_closes_at_once_fails_with_connect() -> None:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await check(f"127.0.0.1:{port}", f"www.{ZONE}", protocol="tcp")
    finally:
        server.close()
        await server.wait_closed()
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        DnsReason.CONNECT,
        f"127.0.0.1:{port} over tcp: closed before a whole answer",
    )


async def test_a_record_that_appears_and_a_server_that_returns_recover(tmp_path: Path) -> None:
    with dnsmasq(tmp_path, [f"--host-record=www.{ZONE},192.0.2.10"]) as server:
        built = TYPE.build(
            "dns", options({"query_name": f"new.{ZONE}", "server": server.address}), deps()
        )
        missing = await built(run())
        assert (missing.reason, missing.error) == (
            DnsReason.RCODE,
            "new.example.test A: rcode NXDOMAIN, expected NOERROR",
        )
        server.stop()
        down = await built(run())
        assert (down.reason, down.error) == (
            DnsReason.CONNECT,
            f"cannot reach {server.address} over udp: Connection refused",
        )
        server.restart([f"--host-record=new.{ZONE},192.0.2.20"])
        back = await built(run())
    assert (back.status, back.reason, back.error) == (Status.OK, None, None)
    assert back.detail == {"rcode": "NOERROR", "answers": ["192.0.2.20"]}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "checks[0].query_name: missing: this key is required"),
        (
            {"query_name": "a..b"},
            "checks[0].query_name: 'a..b' has an empty label",
        ),
        (
            {"query_name": "exämple.test"},
            "checks[0].query_name: 'exämple.test' must be ASCII without spaces or escapes "
            "(an IDN in its xn-- form)",
        ),
        (
            {"query_name": "x" * 64 + ".test"},
            "checks[0].query_name: '" + "x" * 64 + ".test' has a label over 63 characters",
        ),
        (
            {"query_name": "a.test", "query_type": "PTR"},
            "checks[0].query_type: 'PTR' is not one of A, AAAA, CNAME, MX, TXT, SRV, NS",
        ),
        (
            {"query_name": "a.test", "expect_rcode": "NXDOMIAN"},
            "checks[0].expect_rcode: 'NXDOMIAN' is not one of NOERROR, FORMERR, SERVFAIL, "
            "NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE",
        ),
        (
            {"query_name": "a.test", "protocol": "dot"},
            "checks[0].protocol: 'dot' is not one of udp, tcp",
        ),
        (
            {"query_name": "a.test", "expect": ["ok", "("]},
            "checks[0].expect[1]: not a regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"query_name": "a.test", "expect": "ok"},
            "checks[0].expect: must be a list, not a string",
        ),
        (
            {"query_name": "a.test", "min_answers": -1},
            "checks[0].min_answers: -1 must not be negative",
        ),
        (
            {"query_name": "a.test", "server": "ns1.example.test:53"},
            "checks[0].server: 'ns1.example.test:53' is not an IP address and a port, "
            "as 127.0.0.1:53",
        ),
        (
            {"query_name": "a.test", "server": "127.0.0.1"},
            "checks[0].server: '127.0.0.1' has no port: use host:port, :port or [v6]:port",
        ),
        (
            {"query_name": "a.test", "server": "127.0.0.1:0"},
            "checks[0].server: '127.0.0.1:0' is not an IP address and a port, as 127.0.0.1:53",
        ),
        (
            {"query_name": "a.test", "server": "::1:53"},
            "checks[0].server: '::1:53': write an IPv6 host in brackets, as [::1]:9707",
        ),
        (
            {"query_name": "a.test", "warn_after": 1},
            "checks[0].warn_after: 1 has no unit: write a duration such as 1s or 500ms",
        ),
        (
            {"query_name": "a.test", "qtype": "MX"},
            "checks[0].qtype: unknown key (known: name, type, timeout, query_name, "
            "query_type, server, protocol, expect, expect_rcode, min_answers, warn_after)",
        ),
    ],
)
def test_bad_options_name_their_key(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(OptionError) as caught:
        options(data)
    assert str(caught.value) == problem


def test_an_ipv6_server_and_the_defaults() -> None:
    given = options({"query_name": "a.test.", "server": "[::1]:5353"})
    assert (given.host, given.port, given.address) == ("::1", 5353, "[::1]:5353")
    assert (given.query_type.value, given.protocol.value, given.expect_rcode.value) == (
        "A",
        "udp",
        "NOERROR",
    )
    assert given.least_answers == 1
    assert options({"query_name": "a.test", "min_answers": 0}).least_answers == 0


def test_without_server_the_first_nameserver_of_resolv_conf_is_asked(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(
        "# a comment\nsearch example.test\nnameserver not-an-address\n"
        "nameserver fe80::1%eth0\nnameserver 2001:db8::53\nnameserver 192.0.2.53\n"
    )
    assert system_server(resolv) == ("2001:db8::53", 53)
    resolv.write_text("search example.test\n")
    with pytest.raises(Invalid) as caught:
        system_server(resolv)
    assert str(caught.value) == f"server: not given, and {resolv} names no nameserver"
    with pytest.raises(Invalid) as caught:
        system_server(tmp_path / "none")
    assert str(caught.value) == (
        f"server: not given, and {tmp_path / 'none'} cannot be read: No such file or directory"
    )
    default = options({"query_name": "a.test"})
    assert (default.host, default.port) == system_server()


def test_dnspython_is_imported_only_when_a_dns_check_is_built() -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from exporter.checks.dns import TYPE\n"
        "from exporter.options import load_options\n"
        "o = load_options(TYPE.options, {'query_name': 'a.test', 'server': '127.0.0.1:53'},"
        " 'checks[0]', Path('.'))\n"
        "print('dns' in sys.modules)\n"
        "TYPE.build('dns', o, None)\n"
        "print('dns' in sys.modules, 'httpx2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    # httpx2 is installed with the tests; dnspython would bring it in for DNS over HTTPS
    assert done.stdout == "False\nTrue False\n"


def test_the_type_observes_seconds_and_names_its_reasons() -> None:
    assert TYPE.unit == "s"
    assert TYPE.reason_values == ("timeout", "connect", "rcode", "no_answer", "answer", "exception")
