"""Secrets a check sends (a password, a token, an API key): read from files when the config
file loads, never shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from exporter.options import Invalid


def read_secret(path: Path, key: str) -> str:
    """A secret's text, read once when the config file is; Invalid naming ``key``."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise Invalid(key, f"cannot read {path}: {why or error}") from None


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


def redact(error: str, secrets: list[str]) -> str:
    """``error`` without the secrets, should a server have echoed one back."""
    for secret in secrets:
        if secret:
            error = error.replace(secret, "<secret>")
    return error
