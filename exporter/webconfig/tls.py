"""TLS for the server: tls_server_config, and the ssl context it makes."""

from __future__ import annotations

import enum
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")


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
