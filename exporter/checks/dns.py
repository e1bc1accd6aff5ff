"""The ``dns`` check: a name resolves at a server, with the rcode and the answers expected, in
time."""

from __future__ import annotations

from exporter.checks.base import CheckDeps, CheckType
from exporter.checks.dns_options import LISTED_CHARS, MAX_LISTED, DnsOptions, DnsReason
from exporter.verdict import Check


def build(name: str, options: DnsOptions, deps: CheckDeps) -> Check:
    """A check of one name at one server."""
    # dnspython is imported once a dns check is built, not at start-up: an exporter without
    # one keeps its idle RSS (issue 25).
    import dns._features  # noqa: PLC0415

    # Where httpx2 is installed, dnspython imports it (with h2, anyio, truststore: 7 MB of RSS)
    # for DNS over HTTPS, which the check never asks; force() is its documented way round.
    dns._features.force("doh", False)
    from exporter.checks.dns_query import DnsCheck  # noqa: PLC0415

    return DnsCheck(options)


TYPE = CheckType(
    DnsOptions,
    build,
    DnsReason,
    "a name resolves at a server, with the rcode and the answers expected, in time",
    detail_schema={
        "rcode": {"type": "string", "description": "The answer's rcode, as NOERROR."},
        "answers": {
            "type": "array",
            "items": {"type": "string", "maxLength": LISTED_CHARS},
            "maxItems": MAX_LISTED,
            "description": (
                f"The first {MAX_LISTED} answers of query_type, in their text form "
                f"(as 10 mail.example.test. for MX), each cut to {LISTED_CHARS} characters."
            ),
        },
    },
    unit="s",
)
