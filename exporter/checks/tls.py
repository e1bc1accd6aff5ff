"""The ``tls`` block the http, tcp, websocket and grpc checks share: the client's SSL context,
and when the server's certificate expires."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exporter.options import Invalid
from exporter.verdict import Status

# An OpenSSL verify code: the certificate's notAfter has passed.
CERT_HAS_EXPIRED = 10
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class TlsOptions:
    """How a check's client speaks TLS: whom it trusts, what it presents, what name it asks for."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = None
    # Made when the options are read, so a file that cannot be used is a config error naming
    # its key, and the check's client uses the very context that loaded it.
    context: ssl.SSLContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "cert_file" if self.key_file else "key_file"
            raise Invalid(missing, "give cert_file and key_file together")
        context = _reporting()
        if self.ca_file is None:
            context.load_default_certs()
        _configure(context, self)
        object.__setattr__(self, "context", context)


@dataclass
class Handshake:
    """What a watched TLS handshake learned of the peer's certificate."""

    not_after: float | None = None


# The Handshake that TLS handshakes made by the current task (and by the tasks and callbacks
# it starts) report to.
_WATCHING: contextvars.ContextVar[Handshake] = contextvars.ContextVar("tls_handshake")


@contextlib.contextmanager
def watching_handshakes() -> Iterator[Handshake]:
    """Report the handshakes made inside the block, and in what it starts, to a new Handshake.

    The HTTP client lets go of a connection as soon as a short answer is in, before a check
    could ask the connection for its certificate; so the handshake itself tells it.
    """
    seen = Handshake()
    token = _WATCHING.set(seen)
    try:
        yield seen
    finally:
        _WATCHING.reset(token)


class _ReportingObject(ssl.SSLObject):
    """Tells the watching check when the peer's certificate expires, once the handshake is done."""

    def do_handshake(self) -> None:
        super().do_handshake()
        seen = _WATCHING.get(None)
        if seen is not None:
            seen.not_after = not_after(self)


def client_context(options: TlsOptions | None) -> ssl.SSLContext:
    """The client context of ``options``; or without options the shared default one: the
    system's CAs, names checked. Either reports its handshakes to watching_handshakes."""
    return _default_context() if options is None else options.context


@functools.cache
def _default_context() -> ssl.SSLContext:
    """Made once, at first use: loading the system's CAs takes tens of milliseconds and about
    a megabyte."""
    context = _reporting()
    context.load_default_certs()
    return context


def _reporting() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.sslobject_class = _ReportingObject
    return context


def _configure(context: ssl.SSLContext, o: TlsOptions) -> None:
    """Apply ``o`` to ``context``; Invalid naming the file that cannot be used."""
    if o.ca_file is not None:
        try:
            context.load_verify_locations(cafile=o.ca_file)
        except (OSError, ssl.SSLError) as error:
            raise Invalid("ca_file", f"cannot load {o.ca_file}: {_why(error)}") from None
    if o.cert_file is not None and o.key_file is not None:
        try:
            context.load_cert_chain(o.cert_file, o.key_file)
        except (OSError, ssl.SSLError) as error:
            loading = f"cannot load {o.cert_file} with {o.key_file}"
            raise Invalid("cert_file", f"{loading}: {_why(error)}") from None
    if o.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE


def _why(error: OSError | ssl.SSLError) -> str:
    return str(error.strerror or error) if isinstance(error, OSError) else str(error)


def not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> float | None:
    """The Unix time the peer's certificate expires, or None without one.

    A verified certificate is decoded by ssl itself. Without verification ssl decodes nothing,
    so the certificate's DER bytes are read with ``cryptography``, imported only then.
    """
    if ssl_object is None:
        return None
    decoded = ssl_object.getpeercert()
    if decoded and "notAfter" in decoded:
        return float(ssl.cert_time_to_seconds(str(decoded["notAfter"])))
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    from cryptography import x509  # noqa: PLC0415  only checks that skip verification need it

    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def expiry_problem(expires: float, min_days: float | None) -> tuple[Status, str] | None:
    """A ``fail`` if a certificate that expires at ``expires`` has expired, a ``warn`` if it
    does within ``min_days``; else None."""
    days = (expires - time.time()) / DAY_SECONDS
    if days <= 0:
        return Status.FAIL, f"the certificate expired {-days:.1f} days ago"
    if min_days is not None and days < min_days:
        return (
            Status.WARN,
            f"the certificate expires in {days:.1f} days, under min_cert_days {min_days:g}",
        )
    return None


def verify_failure(error: BaseException) -> tuple[bool, str]:
    """Whether a failed certificate verification was an expired certificate, and what
    OpenSSL said."""
    code = getattr(error, "verify_code", None)
    message = getattr(error, "verify_message", None) or str(error)
    return code == CERT_HAS_EXPIRED, f"certificate {message}"
