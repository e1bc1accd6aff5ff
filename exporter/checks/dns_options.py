"""The ``dns`` check's options and reasons: what to ask, of which server, what the answer must
be; and the system's resolver, read from /etc/resolv.conf."""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from exporter.config import parse_listen_address
from exporter.options import Invalid, Seconds

RESOLV_CONF = Path("/etc/resolv.conf")
DNS_PORT = 53
MAX_NAME_BYTES = 253  # a name's text, without its final dot (RFC 1035: 255 on the wire)
MAX_LABEL_BYTES = 63
# The answers a check's entry lists, and how much of each.
MAX_LISTED = 10
LISTED_CHARS = 200


class DnsReason(enum.Enum):
    """Why a dns check is not ok."""

    TIMEOUT = "timeout"  # no answer in time; or, as a warning, an answer slower than warn_after
    CONNECT = "connect"  # the server refused, closed, or sent no valid DNS message
    RCODE = "rcode"  # an rcode other than expect_rcode
    NO_ANSWER = "no_answer"  # fewer answers of query_type than min_answers
    ANSWER = "answer"  # an expect that matched no answer


class QueryType(enum.Enum):
    """The record types a check may ask for, named as blackbox_exporter's dns module names them."""

    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    MX = "MX"
    TXT = "TXT"
    SRV = "SRV"
    NS = "NS"


class Protocol(enum.Enum):
    UDP = "udp"
    TCP = "tcp"


class Rcode(enum.Enum):
    """The response codes of RFC 1035 and RFC 2136, by their names."""

    NOERROR = "NOERROR"
    FORMERR = "FORMERR"
    SERVFAIL = "SERVFAIL"
    NXDOMAIN = "NXDOMAIN"
    NOTIMP = "NOTIMP"
    REFUSED = "REFUSED"
    YXDOMAIN = "YXDOMAIN"
    YXRRSET = "YXRRSET"
    NXRRSET = "NXRRSET"
    NOTAUTH = "NOTAUTH"
    NOTZONE = "NOTZONE"


@dataclass(frozen=True)
class DnsOptions:
    """``type: dns``: the name and type to ask for, the server and protocol, what the answer
    must hold, and when it is only a warning."""

    query_name: str
    query_type: QueryType = QueryType.A
    server: str | None = None  # host:port; None: the first nameserver of /etc/resolv.conf
    protocol: Protocol = Protocol.UDP
    expect: tuple[str, ...] = ()
    expect_rcode: Rcode = Rcode.NOERROR
    min_answers: int | None = None  # None: 1 when expect_rcode is NOERROR, else 0
    warn_after: Seconds | None = None
    # The server asked: ``server`` as given, or the system's resolver. An IP address and a port.
    host: str = field(init=False, compare=False)
    port: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        problem = name_problem(self.query_name)
        if problem is not None:
            raise Invalid("query_name", f"{self.query_name!r} {problem}")
        for i, pattern in enumerate(self.expect):
            try:
                re.compile(pattern)
            except re.error as error:
                raise Invalid(f"expect[{i}]", f"not a regular expression: {error}") from None
        if self.min_answers is not None and self.min_answers < 0:
            raise Invalid("min_answers", f"{self.min_answers} must not be negative")
        host, port = system_server() if self.server is None else server_address(self.server)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)

    @property
    def address(self) -> str:
        """The server asked, as ``host:port``."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def least_answers(self) -> int:
        """How many answers of query_type the check needs."""
        if self.min_answers is not None:
            return self.min_answers
        return 1 if self.expect_rcode is Rcode.NOERROR else 0


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a domain name to ask for, or None."""
    if name == ".":
        return None
    if not name.isascii() or not name.isprintable() or any(c in name for c in " \\"):
        return "must be ASCII without spaces or escapes (an IDN in its xn-- form)"
    labels = name.removesuffix(".").split(".")
    if not all(labels):
        return "has an empty label"
    if any(len(label) > MAX_LABEL_BYTES for label in labels):
        return f"has a label over {MAX_LABEL_BYTES} characters"
    if len(name.removesuffix(".")) > MAX_NAME_BYTES:
        return f"is over {MAX_NAME_BYTES} characters"
    return None


def server_address(text: str) -> tuple[str, int]:
    """``text``, as ``127.0.0.1:53`` or ``[::1]:53``, as an IP address and a port; or Invalid
    naming ``server``."""
    try:
        parsed = parse_listen_address(text)
    except ValueError as error:
        raise Invalid("server", str(error)) from None
    try:
        ip = ipaddress.ip_address(parsed.host or "")
    except ValueError:
        ip = None
    if ip is None or parsed.port == 0 or getattr(ip, "scope_id", None):
        raise Invalid("server", f"{text!r} is not an IP address and a port, as 127.0.0.1:53")
    return str(ip), parsed.port


def system_server(path: Path = RESOLV_CONF) -> tuple[str, int]:
    """The first nameserver that ``path`` names, on port 53; or Invalid naming ``server``."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        raise Invalid("server", f"not given, and {path} cannot be read: {error.strerror}") from None
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                ip = ipaddress.ip_address(words[1])
            except ValueError:
                continue
            if not getattr(ip, "scope_id", None):  # fe80::1%eth0: a link's own, not used
                return str(ip), DNS_PORT
    raise Invalid("server", f"not given, and {path} names no nameserver")
