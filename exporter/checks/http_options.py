"""The ``http`` check's options: the request, what the answer must be, and their validation."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from exporter.checks.secrets import BasicAuth, read_secret
from exporter.checks.tls import TlsOptions
from exporter.options import Invalid, Seconds

STATUS_CLASS = re.compile(r"[1-5]xx")


class Method(enum.Enum):
    """The request methods a check may send."""

    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


@dataclass(frozen=True)
class HttpOptions:
    """``type: http``: the request, what the answer must be, and when it is only a warning."""

    url: str
    method: Method = Method.GET
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    expect_status: tuple[int | str, ...] = ("2xx",)
    body_regex: str | None = None
    json_path: str | None = None
    json_equals: Any = UNSET
    warn_after: Seconds | None = None
    follow_redirects: bool = True
    tls: TlsOptions | None = None
    min_cert_days: float | None = None
    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None
    token: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        url = URL(self.url)
        if url.scheme not in ("http", "https") or not url.host:
            raise Invalid("url", f"{self.url!r} is not an http:// or https:// URL with a host")
        if url.user is not None or url.password is not None:
            raise Invalid("url", "carries a user or password: use basic_auth with password_file")
        if self.body is not None and self.method is not Method.POST:
            raise Invalid("body", f"is sent with POST only, not {self.method.value}")
        if not self.expect_status:
            raise Invalid("expect_status", "must list at least one status or class, as 2xx")
        for i, wanted in enumerate(self.expect_status):
            _check_status(wanted, f"expect_status[{i}]")
        if self.body_regex is not None:
            try:
                re.compile(self.body_regex.encode())
            except re.error as error:
                raise Invalid("body_regex", f"not a regular expression: {error}") from None
        if (self.json_path is None) != (self.json_equals is UNSET):
            raise Invalid(
                "json_path" if self.json_path is None else "json_equals",
                "give json_path and json_equals together",
            )
        if self.json_path is not None and not all(self.json_path.split(".")):
            raise Invalid("json_path", f"{self.json_path!r} is not a dotted path, as checks.db")
        if self.min_cert_days is not None and self.min_cert_days < 0:
            raise Invalid("min_cert_days", f"{self.min_cert_days:g} must not be negative")
        object.__setattr__(self, "token", _token(self))


def _token(o: HttpOptions) -> str | None:
    """The bearer token, checking that one way of authenticating is given at most."""
    secrets = [o.bearer_token_file is not None, o.basic_auth is not None]
    if sum(secrets) > 1:
        raise Invalid("basic_auth", "give bearer_token_file or basic_auth, not both")
    if any(secrets) and any(name.lower() == "authorization" for name in o.headers):
        raise Invalid("headers", "an Authorization header, and bearer_token_file or basic_auth")
    if o.bearer_token_file is None:
        return None
    return read_secret(o.bearer_token_file, "bearer_token_file")


def _check_status(wanted: int | str, key: str) -> None:
    if isinstance(wanted, int):
        if not 100 <= wanted <= 599:
            raise Invalid(key, f"{wanted} is not an HTTP status (100 to 599)")
    elif not STATUS_CLASS.fullmatch(wanted):
        raise Invalid(key, f"{wanted!r} is neither a status nor a class such as 2xx")
