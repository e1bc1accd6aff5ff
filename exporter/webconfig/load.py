"""--web.config.file: the exporter-toolkit web configuration (TLS, basic auth, response headers)."""

from __future__ import annotations

import re
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt

from exporter.webconfig.credentials import Credentials
from exporter.webconfig.tls import TLS_VERSIONS, UNVERIFIED, ClientAuth, TLSServerConfig
from exporter.yamlfile import kind, read_yaml

# The format is https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md
TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
)
HTTP_KEYS = ("headers", "http2")
# Options the toolkit has and this exporter does not: named as such rather than as unknown.
TOOLKIT_ONLY = {
    "": ("rate_limit",),
    "tls_server_config": (
        "cert",
        "key",
        "client_ca",
        "client_allowed_sans",
        "cipher_suites",
        "prefer_server_cipher_suites",
        "curve_preferences",
    ),
}
# The toolkit's own list: only these headers may be set, and some only to these values.
HEADERS: Mapping[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
BCRYPT_HASH = re.compile(
    r"\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}"
)


@dataclass(frozen=True)
class WebConfig:
    """The web configuration: TLS when set, basic auth when users are set, extra headers."""

    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    # What the file says that works but is likely a mistake, for a WARNING at start-up.
    warnings: tuple[str, ...] = field(default=(), compare=False)
    credentials: Credentials | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        users = self.basic_auth_users
        object.__setattr__(self, "credentials", Credentials(users) if users else None)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context; None when TLS is not configured."""
        tls = self.tls_server_config
        return None if tls is None else tls.ssl_context()


def load_web_config(path: Path) -> WebConfig:
    """Read and check the whole file, certificates included; ValueError with a one-line reason."""
    document = read_yaml(path)
    top = _section(document, "")
    tls = _section(top.get("tls_server_config"), "tls_server_config")
    http = _section(top.get("http_server_config"), "http_server_config")
    if not isinstance(http.get("http2", True), bool):  # accepted; aiohttp speaks HTTP/1.1 only
        raise ValueError("http_server_config.http2 must be true or false")
    users = _users(top.get("basic_auth_users"))
    warnings: tuple[str, ...] = ()
    if "basic_auth_users" in top and not users:  # as exporter-toolkit: empty means no auth
        warnings = ("basic_auth_users is empty: every endpoint answers without authentication",)
    config = WebConfig(
        tls_server_config=_tls(tls, path.absolute().parent) if tls else None,
        basic_auth_users=users,
        headers=_headers(http.get("headers")),
        warnings=warnings,
    )
    config.ssl_context()  # reads the certificate, key and CA now: a bad one stops start-up
    return config


def _section(value: object, where: str) -> dict[str, Any]:
    """A mapping (empty when absent) whose keys are all known at ``where``."""
    name = where or "the top level"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping, not {kind(value)}")
    known = {"": TOP_KEYS, "tls_server_config": TLS_KEYS, "http_server_config": HTTP_KEYS}[where]
    for key in value:
        if key in known:
            continue
        dotted = f"{where}.{key}" if where else str(key)
        if key in TOOLKIT_ONLY.get(where, ()):
            raise ValueError(
                f"{dotted} is an exporter-toolkit option this exporter does not support"
            )
        raise ValueError(f"unknown key {dotted!r}; {name} takes {', '.join(known)}")
    return value


def _string(value: object, where: str, choices: Collection[str] = ()) -> str:
    if value is None:
        raise ValueError(f"{where} is required")
    if value == "":
        raise ValueError(f"{where} is empty")
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, not {kind(value)}")
    if choices and value not in choices:
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return value


def _tls(section: dict[str, Any], directory: Path) -> TLSServerConfig:
    def path(key: str) -> Path:  # relative to the config file's directory, as in the toolkit
        return directory / _string(section.get(key), f"tls_server_config.{key}")

    cert, key = path("cert_file"), path("key_file")
    auth_name = section.get("client_auth_type", ClientAuth.NO_CLIENT_CERT.value)
    if auth_name in UNVERIFIED:
        raise ValueError(
            f"tls_server_config.client_auth_type: {auth_name} is not supported: Python's ssl "
            "cannot require a certificate without verifying it; use RequireAndVerifyClientCert "
            "with client_ca_file"
        )
    names = [auth.value for auth in ClientAuth]
    auth = ClientAuth(_string(auth_name, "tls_server_config.client_auth_type", names))
    ca = path("client_ca_file") if "client_ca_file" in section else None
    if ca is not None and auth is ClientAuth.NO_CLIENT_CERT:
        raise ValueError(
            "tls_server_config: client_ca_file is set but client_auth_type is NoClientCert; "
            "set it to RequireAndVerifyClientCert"
        )
    if ca is None and auth.verify_mode is not ssl.CERT_NONE:
        raise ValueError(f"tls_server_config: client_auth_type {auth.value} needs client_ca_file")
    low = _string(
        section.get("min_version", "TLS12"), "tls_server_config.min_version", TLS_VERSIONS
    )
    high = section.get("max_version")
    if high is not None:
        _string(high, "tls_server_config.max_version", TLS_VERSIONS)
        if TLS_VERSIONS[high] < TLS_VERSIONS[low]:
            raise ValueError(f"tls_server_config: max_version {high} is below min_version {low}")
    return TLSServerConfig(
        cert_file=cert,
        key_file=key,
        client_auth_type=auth,
        client_ca_file=ca,
        min_version=TLS_VERSIONS[low],
        max_version=TLS_VERSIONS[high] if high is not None else None,
    )


def _users(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(
            f"basic_auth_users must be a mapping of user to bcrypt hash, not {kind(value)}"
        )
    users: dict[str, str] = {}
    for user, hashed in value.items():
        if not isinstance(user, str):
            raise ValueError(f"basic_auth_users: user name {user!r} must be a string (quote it)")
        if ":" in user:
            raise ValueError(
                f"basic_auth_users: user name {user!r} contains ':', which basic auth cannot carry"
            )
        match = BCRYPT_HASH.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None or not _salt_ok(match.group(2)):
            raise ValueError(
                f"basic_auth_users: the password of {user!r} is not a bcrypt hash "
                "($2y$, $2b$ or $2a$, a cost of 04 to 31, then 53 characters)"
            )
        users[user] = hashed
    return users


def _salt_ok(salt: str) -> bool:
    """bcrypt checks the salt only when it hashes: hash once at the lowest cost to see."""
    try:
        bcrypt.hashpw(b"", f"$2b$04${salt}".encode())
    except ValueError:
        return False
    return True


def _headers(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"http_server_config.headers must be a mapping, not {kind(value)}")
    headers: dict[str, str] = {}
    for name, text in value.items():
        if name not in HEADERS:
            raise ValueError(
                f"http_server_config.headers: {name!r} cannot be set; "
                f"the exporter-toolkit allows {', '.join(HEADERS)}"
            )
        where = f"http_server_config.headers.{name}"
        if text is None or text == "":  # blank: unset, as in the toolkit
            continue
        _string(text, where, HEADERS[name])
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ValueError(f"{where}: control characters are not allowed in a header")
        headers[name] = text
    return headers
