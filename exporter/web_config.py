"""--web.config.file: the exporter-toolkit web configuration (TLS, basic auth, response headers)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import ssl
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

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
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
BCRYPT_HASH = re.compile(
    r"\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}"
)
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
# Verified passwords remembered; only right ones are, so guesses cannot push them out.
CACHE_SIZE = 256


class ClientAuth(enum.Enum):
    """client_auth_type: whether clients must show a certificate signed by client_ca_file."""

    NO_CLIENT_CERT = "NoClientCert"
    # Go asks for a certificate and never checks it; Python's ssl cannot ask without checking,
    # and nothing here reads it, so it is served as NoClientCert.
    REQUEST_CLIENT_CERT = "RequestClientCert"
    VERIFY_CLIENT_CERT_IF_GIVEN = "VerifyClientCertIfGiven"
    REQUIRE_AND_VERIFY_CLIENT_CERT = "RequireAndVerifyClientCert"

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        """The ssl module's mode for this policy."""
        if self is ClientAuth.VERIFY_CLIENT_CERT_IF_GIVEN:
            return ssl.CERT_OPTIONAL
        if self is ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT:
            return ssl.CERT_REQUIRED
        return ssl.CERT_NONE


UNVERIFIED = ("RequireAnyClientCert", "RequireClientCert")  # the toolkit's, and its old name


@dataclass(frozen=True)
class TLSServerConfig:
    """tls_server_config, its file paths made absolute against the config file's directory."""

    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuth = ClientAuth.NO_CLIENT_CERT
    client_ca_file: Path | None = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A server context with this certificate, client policy and versions.

        Raises ValueError, with a one-line reason, when a file cannot be read or used.
        """
        if b"-----BEGIN CERTIFICATE-----" not in _read("cert_file", self.cert_file):
            raise ValueError(f"tls_server_config.cert_file: no PEM certificate in {self.cert_file}")
        if not PRIVATE_KEY.search(_read("key_file", self.key_file)):
            raise ValueError(f"tls_server_config.key_file: no PEM private key in {self.key_file}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.min_version
        if self.max_version is not None:
            context.maximum_version = self.max_version

        def no_password() -> bytes:  # without it, OpenSSL would ask on the terminal
            raise ValueError(
                f"tls_server_config.key_file: {self.key_file} is encrypted; "
                "give the key unencrypted, as the exporter-toolkit also needs"
            )

        try:
            context.load_cert_chain(self.cert_file, self.key_file, password=no_password)
        except ssl.SSLError as error:
            cause = "they do not match" if error.reason == "KEY_VALUES_MISMATCH" else _ssl(error)
            raise ValueError(
                f"tls_server_config: cert_file {self.cert_file} and key_file {self.key_file} "
                f"cannot be used: {cause}"
            ) from None
        if self.client_ca_file is not None:
            _read("client_ca_file", self.client_ca_file)
            try:
                context.load_verify_locations(cafile=self.client_ca_file)
            except ssl.SSLError as error:
                raise ValueError(
                    f"tls_server_config.client_ca_file: no usable CA certificate in "
                    f"{self.client_ca_file}: {_ssl(error)}"
                ) from None
        context.verify_mode = self.client_auth_type.verify_mode
        return context


class Credentials:
    """The basic_auth_users' bcrypt hashes, and the passwords already verified against them.

    bcrypt is slow on purpose (about 50 ms at cost 10), so a right password is remembered,
    keyed by a keyed hash of it, never the password itself; a wrong one is checked every time.
    """

    def __init__(
        self,
        hashes: Mapping[str, str],
        checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._hashes = {user: value.encode("ascii") for user, value in hashes.items()}
        self._checkpw = checkpw
        self._cache_size = cache_size
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, bytes], None] = {}  # insertion order: oldest first
        self._lock = threading.Lock()
        self._decoy: bytes | None = None

    def _cache_key(self, user: str, password: bytes) -> tuple[str, bytes]:
        return user, hmac.digest(self._key, password, hashlib.sha256)

    def cached(self, user: str, password: bytes) -> bool:
        """True when this password of this user was verified before: no bcrypt needed."""
        return self._cache_key(user, password) in self._verified

    def verify(self, user: str, password: bytes) -> bool:
        """Whether the password is right; runs bcrypt unless it was verified before. Blocks."""
        key = self._cache_key(user, password)
        if key in self._verified:
            return True
        stored = self._hashes.get(user)
        try:
            # An unknown user is checked against a decoy, so timing does not tell who exists.
            ok = self._checkpw(password, stored or self._decoy_hash()) and stored is not None
        except ValueError:  # bcrypt refuses passwords over 72 bytes
            ok = False
        if ok:
            with self._lock:
                if len(self._verified) >= self._cache_size:
                    del self._verified[next(iter(self._verified))]
                self._verified[key] = None
        return ok

    def _decoy_hash(self) -> bytes:
        with self._lock:
            if self._decoy is None:
                cost = max((int(h[4:6]) for h in self._hashes.values()), default=10)
                self._decoy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost))
            return self._decoy


@dataclass(frozen=True)
class WebConfig:
    """The web configuration: TLS when set, basic auth when users are set, extra headers."""

    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
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
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ValueError(f"{path} is not valid YAML: {error.problem}{where}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    top = _section(document, "")
    tls = _section(top.get("tls_server_config"), "tls_server_config")
    http = _section(top.get("http_server_config"), "http_server_config")
    if not isinstance(http.get("http2", True), bool):  # accepted; aiohttp speaks HTTP/1.1 only
        raise ValueError("http_server_config.http2 must be true or false")
    config = WebConfig(
        tls_server_config=_tls(tls, path.absolute().parent) if tls else None,
        basic_auth_users=_users(top.get("basic_auth_users")),
        headers=_headers(http.get("headers")),
    )
    config.ssl_context()  # reads the certificate, key and CA now: a bad one stops start-up
    return config


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing a key given twice (the toolkit's strict decoding does)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            continue  # only strings are valid keys here; the checks after loading say so
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _kind(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _section(value: object, where: str) -> dict[str, Any]:
    """A mapping (empty when absent) whose keys are all known at ``where``."""
    name = where or "the top level"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping, not {_kind(value)}")
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
        raise ValueError(f"{where} must be a string, not {_kind(value)}")
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
            f"basic_auth_users must be a mapping of user to bcrypt hash, not {_kind(value)}"
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
        raise ValueError(f"http_server_config.headers must be a mapping, not {_kind(value)}")
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


def _read(key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(
            f"tls_server_config.{key}: cannot read {path}: {error.strerror or error}"
        ) from None


def _ssl(error: ssl.SSLError) -> str:
    """OpenSSL's reason, without the source line Python appends."""
    if error.reason:
        return error.reason.lower().replace("_", " ")
    return re.sub(r" \(_ssl\.c:\d+\)$", "", str(error))
