"""basic_auth_users: bcrypt hashes, and a bounded cache of the passwords verified against them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping

import bcrypt

# Verified passwords remembered; only right ones are, so guesses cannot push them out.
CACHE_SIZE = 256


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

    def key(self, user: str, password: bytes) -> tuple[str, bytes]:
        """What stands for this credential in memory: the user and a keyed hash of the password."""
        return user, hmac.digest(self._key, password, hashlib.sha256)

    def cached(self, user: str, password: bytes) -> bool:
        """True when this password of this user was verified before: no bcrypt needed."""
        return self.key(user, password) in self._verified

    def verify(self, user: str, password: bytes) -> bool:
        """Whether the password is right; runs bcrypt unless it was verified before. Blocks."""
        key = self.key(user, password)
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
