"""Asking a store over HTTP: its URL, TLS and credentials, and every failure as its reason."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from exporter.checks.secrets import BasicAuth, Secrets, read_secret, unquoted
from exporter.checks.stores.book import StoreOptions
from exporter.checks.stores.check import StoreError, StoreReason
from exporter.checks.tls import TlsOptions, client_context, verify_failure
from exporter.options import Invalid
from exporter.session import SharedSession, connect_failure, read_body

# The most of an answer read: a query for 1000 pending canaries answers far less.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
# How much of an error answer the reason quotes, in characters.
QUOTED_CHARS = 200
NO_TIMEOUT = aiohttp.ClientTimeout(total=None)  # the run's deadline bounds each request


@dataclass(frozen=True, kw_only=True)
class HttpStoreOptions(StoreOptions):
    """What every store asked over HTTP takes: its URL, TLS, and a bearer token or a user
    and password from files."""

    url: str
    tls: TlsOptions | None = None
    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None
    token: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        url = URL(self.url)
        if url.scheme not in ("http", "https") or not url.host:
            raise Invalid("url", f"{self.url!r} is not an http:// or https:// URL with a host")
        if url.user is not None or url.password is not None:
            raise Invalid("url", "carries a user or password: use basic_auth with password_file")
        if self.bearer_token_file is not None and self.basic_auth is not None:
            raise Invalid("basic_auth", "give bearer_token_file or basic_auth, not both")
        token = None
        if self.bearer_token_file is not None:
            token = read_secret(self.bearer_token_file, "bearer_token_file")
        object.__setattr__(self, "token", token)

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header, if the store takes one."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic_auth is not None:
            return {"Authorization": self.basic_auth.header}
        return {}

    def secrets(self) -> list[str]:
        """What must never show in an error."""
        return [s for s in (self.token, self.basic_auth and self.basic_auth.password) if s]


class StoreClient:
    """One store's HTTP requests through the app's shared client."""

    def __init__(
        self,
        http: SharedSession,
        options: HttpStoreOptions,
        headers: Mapping[str, str] | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self._http = http
        self.base = URL(options.url)
        self._ssl = client_context(options.tls)
        self._server_name = options.tls.server_name if options.tls else None
        self._headers = {**options.auth_headers(), **(headers or {})}
        self._secrets = Secrets([*options.secrets(), *(secrets or [])], self._headers)

    def url(self, path: str) -> URL:
        """``path`` under the store's URL (which may itself have a path, behind a proxy)."""
        return self.base.with_path(self.base.path.rstrip("/") + path)

    async def ask(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The body of a 2xx answer; StoreError with the reason for anything else. Every
        request to a store is a query, so it is asked again when a kept connection was closed
        under it (an Elasticsearch search is a POST, which aiohttp would not repeat)."""
        url = self.url(path)
        try:
            async with self._http.kept.request(
                method,
                url,
                repeatable=True,
                params=params,
                json=body,
                headers={**self._headers, **(headers or {})},
                ssl=self._ssl,
                server_hostname=self._server_name,
                allow_redirects=False,
                timeout=NO_TIMEOUT,
            ) as response:
                data, more = await read_body(response, MAX_ANSWER_BYTES)
                status = response.status
        except aiohttp.ClientConnectorCertificateError as error:
            raise self._error(StoreReason.TLS, verify_failure(error.certificate_error)[1]) from None
        except aiohttp.ClientSSLError as error:
            raise self._error(StoreReason.TLS, f"TLS with {url.host}: {error}") from None
        except aiohttp.ClientConnectorError as error:
            raise self._error(StoreReason.UNREACHABLE, connect_failure(error)) from None
        except (aiohttp.ClientError, HttpProcessingError) as error:
            why = unquoted(error)  # aiohttp's parser would quote the bytes it could not parse
            raise self._error(StoreReason.UNREACHABLE, f"no answer from {url}: {why}") from None
        if status in (401, 403):
            raise self._error(StoreReason.AUTH, f"status {status}: {self.quote(data)}")
        if not 200 <= status < 300:
            raise self._error(StoreReason.QUERY, f"status {status}: {self.quote(data)}")
        if more:
            raise self._error(StoreReason.QUERY, f"answer over {MAX_ANSWER_BYTES} bytes")
        return data

    async def ask_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; reason ``query`` when it is not JSON."""
        data = await self.ask(method, path, **kwargs)
        try:
            return json.loads(data)
        except ValueError:
            raise self._error(StoreReason.QUERY, f"not JSON: {self.quote(data)}") from None
        except RecursionError:  # json's C scanner stops at the interpreter's recursion limit
            raise self._error(StoreReason.QUERY, "JSON nested too deep to read") from None

    def quote(self, data: bytes) -> str:
        """The start of a body, for an error: the store's secrets redacted before the cut (a
        store that echoes the Authorization header shows none of it), then repr()'d."""
        read = 4 * QUOTED_CHARS  # past the cut: a secret the cut falls in is redacted whole
        text = self._secrets.quote(data[:read].decode("utf-8", "replace").strip(), QUOTED_CHARS)
        if len(data) > read and not text.endswith("…"):
            text += "…"
        return repr(text) if text else "(empty body)"

    def _error(self, reason: StoreReason, error: str) -> StoreError:
        return StoreError(reason, self._secrets.redact(error))


def shape_error(what: str) -> StoreError:
    """An answer that is JSON, but not of the documented shape."""
    return StoreError(StoreReason.QUERY, f"not the documented answer: {what}")
