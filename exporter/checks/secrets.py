"""Secrets a check sends (a password, a token, an API key): read from files when the config
file loads, and never shown, in any form a server's text could carry them."""

from __future__ import annotations

import base64
import binascii
import errno
import html
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from exporter.options import Invalid
from exporter.session import plain

MARK = "<secret>"
# Any run of this many characters of a secret, in any of its forms, is redacted wherever it
# stands: a secret cut at a limit, ours or a server's, shows at most 7 characters of itself.
RUN = 8
# Headers whose values are credentials: Authorization, and in an http check's ``headers``,
# X-API-Key, X-Auth-Token, Cookie and the like (the words Sentry's scrubber looks for).
CREDENTIAL = re.compile(r"auth|key|token|secret|pass|session|cookie|credential|signature", re.I)
# ``Bearer <token>``, ``Basic <base64>``, ``ApiKey <key>``: a scheme, then the credentials.
SCHEMED = re.compile(r"([A-Za-z][A-Za-z0-9_-]*) +(\S.*)")
# What a secret's file may not hold inside it: the line breaks str.splitlines() knows, and the
# other control characters (C0, DEL, C1).
LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A secret is a token, a password or a key: a file over this is a mistake (or /dev/zero).
MAX_SECRET_BYTES = 64 * 1024


def read_secret(path: Path, key: str) -> str:
    """A secret's text, read once when the config file is: one line (a trailing line break
    is dropped) with no control character, which no header may carry (aiohttp refuses it at
    every request); Invalid naming ``key``, and never quoting the text."""
    try:
        text = _read_text(path)
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise Invalid(key, f"cannot read {path}: {why or error}") from None
    if LINE_BREAK.search(text):
        raise Invalid(key, f"{path} holds more than one line: a secret is one line")
    if CONTROL.search(text):
        raise Invalid(key, f"{path} holds a control character (a NUL, an escape): not a secret")
    return text


def _read_text(path: Path) -> str:
    """At most MAX_SECRET_BYTES of a regular file, stripped. Opened without blocking and
    checked before a byte is read: a FIFO is refused, not waited on; /dev/zero is no secret."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = file.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_SECRET_BYTES // 1024} KiB")
    return data.decode().strip()


@dataclass(frozen=True)
class BasicAuth:
    """``basic_auth``: a user name, and the file that holds the password."""

    username: str
    password_file: Path
    password: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "password", read_secret(self.password_file, "password_file"))

    @property
    def header(self) -> str:
        """The Authorization header's value."""
        return aiohttp.encode_basic_auth(self.username, self.password)


class Secrets:
    """What a check must never show: the secrets it sends raw, JSON-, repr-, URL- or
    HTML-escaped (twice over), in base64; and what carries them (``user:password``, a whole
    Authorization header) in base64. Found in any text by runs of RUN characters."""

    def __init__(
        self, secrets: Iterable[str | None] = (), headers: Mapping[str, str] | None = None
    ) -> None:
        raw = {s for s in secrets if s}
        carriers: set[str] = set()
        for name, value in (headers or {}).items():
            if CREDENTIAL.search(name):
                sent, carried = _credentials(value)
                raw.update(s for s in sent if len(s) >= RUN)  # shorter: a flag, not a secret
                carriers.update(carried)
        forms = {e for s in raw for e in _escaped(s)}
        # Base64's alphabet is the same JSON-, repr- or HTML-escaped; URL-quoted, +/= are not.
        encoded = {f for text in (*raw, *carriers) for f in _base64(text)}
        forms |= encoded | {quote(f, safe="") for f in encoded}
        self._pieces: dict[int, frozenset[str]] = _pieces(forms)

    def redact(self, text: str) -> str:
        """``text`` with every run of a secret's forms replaced by MARK."""
        if not self._pieces:
            return text
        hidden = bytearray(len(text))
        for size, pieces in self._pieces.items():
            for i in range(len(text) - size + 1):
                if text[i : i + size] in pieces:
                    hidden[i : i + size] = b"\x01" * size
        shown, at = [], 0
        for run in re.finditer(rb"\x01+", hidden):
            shown += [text[at : run.start()], MARK]
            at = run.end()
        return "".join([*shown, text[at:]])

    def quote(self, text: str, limit: int) -> str:
        """At most ``limit`` characters of ``text``, redacted before the cut; "…" marks one.
        A window well past the limit is redacted, so a secret the cut falls in is gone whole."""
        window = 4 * limit + RUN
        shown = self.redact(text[:window])
        if len(shown) <= limit and len(text) <= window:
            return shown
        return shown[:limit] + "…"


def unquoted(error: BaseException) -> str:
    """An HTTP client's error in words that quote nothing the server sent: aiohttp's parser
    quotes the bytes it could not parse, and a refused redirect's error is its URL."""
    if isinstance(error, aiohttp.InvalidUrlRedirectClientError):
        return "redirected to a location that is not a URL"
    if isinstance(error, aiohttp.NonHttpUrlRedirectClientError):
        return "redirected to a URL that is not http:// or https://"
    if isinstance(error, aiohttp.ClientPayloadError):
        cause = error.__cause__
        said = str(error).split(":", 1)[0]
        return f"{said} ({type(cause).__name__})" if cause is not None else said
    if isinstance(error, aiohttp.ClientResponseError | HttpProcessingError):
        return "the answer is not valid HTTP"
    if isinstance(error, aiohttp.ClientError):
        return plain(error)
    return str(error) or type(error).__name__


def _credentials(value: str) -> tuple[list[str], list[str]]:
    """The secrets in a credential header's value (what follows its scheme, or all of it; for
    Basic, the password too), and what carries them (the value; for Basic, user:password)."""
    schemed = SCHEMED.fullmatch(value)
    if schemed is None:
        return [value], [value]
    scheme, credentials = schemed.groups()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            pass
        else:
            return [credentials, decoded.partition(":")[2]], [value, decoded]
    return [credentials], [value]


def _base64(text: str) -> set[str]:
    """``text`` in base64 (and its URL-safe alphabet): alone, and as it reads inside a longer
    text at each of the three alignments, less the characters it shares with its neighbours."""
    data = text.encode()
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(data).decode())
        for offset in (1, 2):
            encoded = encode(bytes(offset) + data).decode()
            forms.add(encoded[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6])
    return {f for f in forms if len(f) >= RUN}


def _repr(text: str) -> str:
    """``text`` as repr() escapes it inside a text that holds both quotes: ' escaped."""
    return repr(text + "'\"")[1:-4]


def _bytes_repr(text: str) -> str:
    return repr(text.encode() + b"'\"")[2:-4]


ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    _repr,
    lambda s: _repr(s).replace("\\'", "'"),  # inside a text repr() quotes with "
    _bytes_repr,
    lambda s: _bytes_repr(s).replace("\\'", "'"),
    lambda s: quote(s, safe=""),
    quote,
    quote_plus,
    html.escape,
    lambda s: html.escape(s, quote=False),
)


def _escaped(form: str) -> set[str]:
    """``form``, and it escaped once or twice (a JSON string repr()'d, say)."""
    once = {form, *(escape(form) for escape in ESCAPES)}
    return once | {escape(f) for f in once for escape in ESCAPES}


def _pieces(forms: Iterable[str]) -> dict[int, frozenset[str]]:
    """Every run of RUN characters of the forms (a shorter form whole), by length."""
    pieces: dict[int, set[str]] = {}
    for form in forms:
        size = min(RUN, len(form))
        pieces.setdefault(size, set()).update(
            form[i : i + size] for i in range(len(form) - size + 1)
        )
    return {size: frozenset(runs) for size, runs in pieces.items()}
