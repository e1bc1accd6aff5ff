"""The web config file: what it loads into, every bad file and its one-line reason, the cache."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization

from exporter.webconfig.credentials import Credentials
from exporter.webconfig.load import WebConfig, load_web_config
from exporter.webconfig.tls import ClientAuth, TLSServerConfig
from tests.certs import CA, Pair

# Cost 4, bcrypt's lowest, keeps the tests fast; the format is the same at any cost.
HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
OTHER_HASH = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()


@dataclass(frozen=True)
class Pki:
    """A config directory holding a CA, a server certificate it signed, and a stranger's key."""

    conf: Path
    ca: Path
    server: Pair
    stranger: Pair

    def write(self, text: str, name: str = "web.yml") -> Path:
        path = self.conf / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    conf = tmp_path / "conf"
    conf.mkdir()
    ca = CA(conf, "ca")
    return Pki(conf, ca.cert, ca.issue("server", server=True), ca.issue("stranger", server=True))


def exactly(text: str) -> str:
    """A pattern matching ``text`` whole, and nothing longer (no second line either)."""
    return rf"\A{re.escape(text)}\Z"


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


def test_every_option_loads_with_paths_from_the_config_directory(pki: Pki) -> None:
    path = pki.write(
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n"
        "  client_ca_file: ca.crt\n"
        "  min_version: TLS13\n"
        "  max_version: TLS13\n"
        f"basic_auth_users:\n  alice: {HASH}\n  bob: '{OTHER_HASH}'\n"
        "http_server_config:\n"
        "  http2: false\n"
        "  headers:\n"
        "    X-Frame-Options: deny\n"
        "    X-Content-Type-Options: nosniff\n"
        "    Strict-Transport-Security: max-age=31536000\n"
        "    Content-Security-Policy: default-src 'none'\n"
        "    X-XSS-Protection: ''\n"  # blank: not set, as in the toolkit
    )
    assert load_web_config(path) == WebConfig(
        tls_server_config=TLSServerConfig(
            cert_file=pki.conf / "server.crt",
            key_file=pki.conf / "server.key",
            client_auth_type=ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT,
            client_ca_file=pki.conf / "ca.crt",
            min_version=ssl.TLSVersion.TLSv1_3,
            max_version=ssl.TLSVersion.TLSv1_3,
        ),
        basic_auth_users={"alice": HASH, "bob": OTHER_HASH},
        headers={
            "X-Frame-Options": "deny",
            "X-Content-Type-Options": "nosniff",
            "Strict-Transport-Security": "max-age=31536000",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


def test_ssl_context_follows_the_config(pki: Pki) -> None:
    config = load_web_config(
        pki.write(
            TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
        )
    )
    context = config.ssl_context()
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.maximum_version is ssl.TLSVersion.MAXIMUM_SUPPORTED
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ca"),),)]


@pytest.mark.parametrize(
    ("policy", "mode"),
    [
        ("NoClientCert", ssl.CERT_NONE),
        ("RequestClientCert", ssl.CERT_NONE),  # Go never checks that certificate either
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_type_sets_the_verify_mode(pki: Pki, policy: str, mode: ssl.VerifyMode) -> None:
    ca = "" if policy == "NoClientCert" else "  client_ca_file: ca.crt\n"
    config = load_web_config(pki.write(TLS + f"  client_auth_type: {policy}\n" + ca))
    context = config.ssl_context()
    assert context is not None
    assert context.verify_mode is mode


@pytest.mark.parametrize("text", ["", "# nothing\n", "tls_server_config:\nbasic_auth_users: {}\n"])
def test_an_empty_config_turns_nothing_on(pki: Pki, text: str) -> None:
    config = load_web_config(pki.write(text))
    assert config == WebConfig()
    assert config.ssl_context() is None
    assert config.credentials is None


def test_relative_paths_are_found_beside_the_config_file_not_in_the_working_directory(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "server.crt").write_text("not this one\n")
    monkeypatch.chdir(elsewhere)
    config = load_web_config(pki.write(TLS))
    assert config.tls_server_config is not None
    assert config.tls_server_config.cert_file == pki.conf / "server.crt"
    # A relative path to the config file itself works the same way.
    relative = load_web_config(Path("../conf/web.yml"))
    assert relative.tls_server_config is not None
    assert relative.tls_server_config.cert_file == Path("../conf/server.crt").absolute()
    assert relative.ssl_context() is not None


def test_absolute_paths_are_kept(pki: Pki, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    path = other / "web.yml"
    path.write_text(
        f"tls_server_config:\n  cert_file: {pki.server.cert}\n  key_file: {pki.server.key}\n"
    )
    config = load_web_config(path)
    assert config.tls_server_config is not None
    assert (config.tls_server_config.cert_file, config.tls_server_config.key_file) == (
        pki.server.cert,
        pki.server.key,
    )


def test_a_hash_in_apache_s_2y_form_is_accepted(pki: Pki) -> None:
    htpasswd_style = "$2y$" + HASH[4:]
    config = load_web_config(pki.write(f"basic_auth_users:\n  alice: '{htpasswd_style}'\n"))
    assert config.credentials is not None
    assert config.credentials.verify("alice", b"secret") is True


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ValueError, match=exactly(f"cannot read {path}: No such file or directory")):
        load_web_config(path)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=exactly(f"cannot read {tmp_path}: Is a directory")):
        load_web_config(tmp_path)


def _encrypted(pair: Pair, path: Path) -> Path:
    key = serialization.load_pem_private_key(pair.key.read_bytes(), None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass"),
        )
    )
    return path


TOOLKIT_HEADERS = (
    "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
    "Content-Security-Policy"
)
NOT_A_HASH = (
    "basic_auth_users: the password of 'alice' is not a bcrypt hash "
    "($2y$, $2b$ or $2a$, a cost of 04 to 31, then 53 characters)"
)
CLIENT_AUTHS = (
    "NoClientCert, RequestClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
)

# (file text, the one-line reason); {conf} is the config directory, {file} the config file.
BAD_FILES = {
    "yaml syntax": (
        "tls_server_config: [\n",
        "{file} is not valid YAML: expected the node content, but found '<stream end>' "
        "(line 2, column 1)",
    ),
    "yaml tab": (
        "\tfoo: 1\n",
        "{file} is not valid YAML: found character '\\t' that cannot "
        "start any token (line 1, column 1)",
    ),
    "duplicate user": (
        f"basic_auth_users:\n  alice: {HASH}\n  alice: {OTHER_HASH}\n",
        "{file} is not valid YAML: duplicate key 'alice' (line 3, column 3)",
    ),
    "top level list": ("- tls_server_config\n", "the top level must be a mapping, not a list"),
    "unknown top key": (
        "tls_config: {}\n",
        "unknown key 'tls_config'; the top level takes tls_server_config, http_server_config, "
        "basic_auth_users",
    ),
    "toolkit-only top key": (
        "rate_limit: {burst: 1}\n",
        "rate_limit is an exporter-toolkit option this exporter does not support",
    ),
    "unknown tls key": (
        TLS + "  certfile: x\n",
        "unknown key 'tls_server_config.certfile'; tls_server_config takes cert_file, key_file, "
        "client_auth_type, client_ca_file, min_version, max_version",
    ),
    "toolkit-only tls key": (
        TLS + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
        "tls_server_config.cipher_suites is an exporter-toolkit option this exporter does not "
        "support",
    ),
    "unknown http key": (
        "http_server_config:\n  header: {}\n",
        "unknown key 'http_server_config.header'; http_server_config takes headers, http2",
    ),
    "tls not a mapping": (
        "tls_server_config: server.crt\n",
        "tls_server_config must be a mapping, not a string",
    ),
    "no cert_file": (
        "tls_server_config:\n  key_file: server.key\n",
        "tls_server_config.cert_file is required",
    ),
    "no key_file": (
        "tls_server_config:\n  cert_file: server.crt\n",
        "tls_server_config.key_file is required",
    ),
    "cert_file a number": (
        "tls_server_config:\n  cert_file: 5\n  key_file: server.key\n",
        "tls_server_config.cert_file must be a string, not a number",
    ),
    "cert_file empty": (
        "tls_server_config:\n  cert_file: ''\n  key_file: server.key\n",
        "tls_server_config.cert_file is empty",
    ),
    "missing cert": (
        "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
        "tls_server_config.cert_file: cannot read {conf}/nope.crt: No such file or directory",
    ),
    "missing key": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: nope.key\n",
        "tls_server_config.key_file: cannot read {conf}/nope.key: No such file or directory",
    ),
    "cert is not PEM": (
        "tls_server_config:\n  cert_file: web.yml\n  key_file: server.key\n",
        "tls_server_config.cert_file: no PEM certificate in {conf}/web.yml",
    ),
    "key is a certificate": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n",
        "tls_server_config.key_file: no PEM private key in {conf}/server.crt",
    ),
    "mismatched key": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: stranger.key\n",
        "tls_server_config: cert_file {conf}/server.crt and key_file {conf}/stranger.key cannot "
        "be used: they do not match",
    ),
    "encrypted key": (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: encrypted.key\n",
        "tls_server_config.key_file: {conf}/encrypted.key is encrypted; give the key "
        "unencrypted, as the exporter-toolkit also needs",
    ),
    "unknown client_auth_type": (
        TLS + "  client_auth_type: Sometimes\n",
        f"tls_server_config.client_auth_type: 'Sometimes' is not one of {CLIENT_AUTHS}",
    ),
    "RequireAnyClientCert": (
        TLS + "  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n",
        "tls_server_config.client_auth_type: RequireAnyClientCert is not supported: Python's ssl "
        "cannot require a certificate without verifying it; use RequireAndVerifyClientCert with "
        "client_ca_file",
    ),
    "verification without a CA": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
        "tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file",
    ),
    "optional verification without a CA": (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n",
        "tls_server_config: client_auth_type VerifyClientCertIfGiven needs client_ca_file",
    ),
    "a CA without a policy": (
        TLS + "  client_ca_file: ca.crt\n",
        "tls_server_config: client_ca_file is set but client_auth_type is NoClientCert; set it "
        "to RequireAndVerifyClientCert",
    ),
    "missing CA": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nope.crt\n",
        "tls_server_config.client_ca_file: cannot read {conf}/nope.crt: No such file or directory",
    ),
    "CA file without a certificate": (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n",
        "tls_server_config.client_ca_file: no usable CA certificate in {conf}/server.key: "
        "no certificate or crl found",
    ),
    "TLS 1.1": (
        TLS + "  min_version: TLS11\n",
        "tls_server_config.min_version: 'TLS11' is not one of TLS12, TLS13",
    ),
    "max below min": (
        TLS + "  min_version: TLS13\n  max_version: TLS12\n",
        "tls_server_config: max_version TLS12 is below min_version TLS13",
    ),
    "users a list": (
        "basic_auth_users: [alice]\n",
        "basic_auth_users must be a mapping of user to bcrypt hash, not a list",
    ),
    "plain password": ("basic_auth_users:\n  alice: secret\n", NOT_A_HASH),
    "truncated hash": (f"basic_auth_users:\n  alice: '{HASH[:-1]}'\n", NOT_A_HASH),
    "cost 3": (f"basic_auth_users:\n  alice: '$2b$03${HASH[7:]}'\n", NOT_A_HASH),
    # 22 salt characters carry 128 bits; a last one with stray low bits is not a salt.
    "bad salt": (f"basic_auth_users:\n  alice: '{HASH[:28]}Z{HASH[29:]}'\n", NOT_A_HASH),
    "hash a number": ("basic_auth_users:\n  alice: 12\n", NOT_A_HASH),
    "user a number": (
        f"basic_auth_users:\n  12: {HASH}\n",
        "basic_auth_users: user name 12 must be a string (quote it)",
    ),
    "user with a colon": (
        f"basic_auth_users:\n  'a:b': {HASH}\n",
        "basic_auth_users: user name 'a:b' contains ':', which basic auth cannot carry",
    ),
    "header not allowed": (
        "http_server_config:\n  headers:\n    Content-Type: text/plain\n",
        f"http_server_config.headers: 'Content-Type' cannot be set; the exporter-toolkit allows "
        f"{TOOLKIT_HEADERS}",
    ),
    "WWW-Authenticate": (
        "http_server_config:\n  headers:\n    WWW-Authenticate: Basic\n",
        f"http_server_config.headers: 'WWW-Authenticate' cannot be set; the exporter-toolkit "
        f"allows {TOOLKIT_HEADERS}",
    ),
    "header value not allowed": (
        "http_server_config:\n  headers:\n    X-Frame-Options: allow-from\n",
        "http_server_config.headers.X-Frame-Options: 'allow-from' is not one of deny, sameorigin",
    ),
    "header with a newline": (
        'http_server_config:\n  headers:\n    Content-Security-Policy: "a\\r\\nSet-Cookie: x"\n',
        "http_server_config.headers.Content-Security-Policy: control characters are not "
        "allowed in a header",
    ),
    "headers a list": (
        "http_server_config:\n  headers: [X-Frame-Options]\n",
        "http_server_config.headers must be a mapping, not a list",
    ),
    "http2 a string": (
        "http_server_config:\n  http2: 'yes'\n",
        "http_server_config.http2 must be true or false",
    ),
}


@pytest.mark.parametrize(("text", "reason"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_with_one_line(pki: Pki, text: str, reason: str) -> None:
    _encrypted(pki.server, pki.conf / "encrypted.key")
    path = pki.write(text)
    with pytest.raises(ValueError, match=exactly(reason.format(conf=pki.conf, file=path))):
        load_web_config(path)


def test_invalid_utf8_is_refused(pki: Pki) -> None:
    path = pki.conf / "web.yml"
    path.write_bytes(b"basic_auth_users:\n  \xc3\x28: x\n")
    reason = (
        f"{path} is not valid YAML: unacceptable character #x00c3: invalid continuation byte "
        'in "<byte string>", position 20'
    )
    with pytest.raises(ValueError, match=exactly(reason)):
        load_web_config(path)


class CountingCheckpw:
    """bcrypt.checkpw, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls += 1
        return bcrypt.checkpw(password, hashed)


def test_a_right_password_pays_bcrypt_once() -> None:
    checkpw = CountingCheckpw()
    credentials = Credentials({"alice": HASH}, checkpw=checkpw)
    assert credentials.cached("alice", b"secret") is False
    assert [credentials.verify("alice", b"secret") for _ in range(5)] == [True] * 5
    assert checkpw.calls == 1
    assert credentials.cached("alice", b"secret") is True


def test_a_wrong_password_is_checked_and_refused_every_time() -> None:
    checkpw = CountingCheckpw()
    credentials = Credentials({"alice": HASH}, checkpw=checkpw)
    assert credentials.verify("alice", b"secret") is True
    assert [credentials.verify("alice", b"wrong") for _ in range(3)] == [False] * 3
    assert checkpw.calls == 4
    assert credentials.cached("alice", b"wrong") is False
    # A right password of one user is not a right password of another.
    assert credentials.verify("bob", b"secret") is False
    assert credentials.cached("bob", b"secret") is False
    assert checkpw.calls == 5


def test_an_unknown_user_costs_a_bcrypt_check_too() -> None:
    checkpw = CountingCheckpw()
    credentials = Credentials({"alice": HASH}, checkpw=checkpw)
    assert credentials.verify("mallory", b"secret") is False
    assert checkpw.calls == 1


def test_a_password_over_bcrypt_s_72_bytes_is_refused_not_raised() -> None:
    credentials = Credentials({"alice": HASH})
    assert credentials.verify("alice", b"secret" + b"x" * 100) is False


def test_the_cache_is_bounded_and_forgets_the_oldest_first() -> None:
    checkpw = CountingCheckpw()
    credentials = Credentials({"alice": HASH, "bob": OTHER_HASH}, checkpw=checkpw, cache_size=1)
    assert credentials.verify("alice", b"secret") is True
    assert credentials.verify("bob", b"other") is True
    assert (credentials.cached("alice", b"secret"), credentials.cached("bob", b"other")) == (
        False,
        True,
    )
    assert credentials.verify("alice", b"secret") is True
    assert checkpw.calls == 3


def test_the_loaded_config_checks_its_users(pki: Pki) -> None:
    config = load_web_config(pki.write(f"basic_auth_users:\n  alice: {HASH}\n"))
    assert config.credentials is not None
    assert config.credentials.verify("alice", b"secret") is True
    assert config.credentials.verify("alice", b"Secret") is False


def test_the_documented_example_loads_and_its_password_is_secret(pki: Pki) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    page = (docs / "access-control.md").read_text(encoding="utf-8")
    example = page.split("```yaml\n", 1)[1].split("```", 1)[0]
    (pki.conf / "clients-ca.crt").write_bytes(pki.ca.read_bytes())
    config = load_web_config(pki.write(example))
    assert config.tls_server_config == TLSServerConfig(
        cert_file=pki.conf / "server.crt",
        key_file=pki.conf / "server.key",
        client_auth_type=ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT,
        client_ca_file=pki.conf / "clients-ca.crt",
    )
    assert config.credentials is not None
    assert config.credentials.verify("prometheus", b"secret") is True
    assert set(config.headers) == {
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
    }
