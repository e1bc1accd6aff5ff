"""The canaries this process has written: run, sequence number, instance and signature, for the
store checks to look for and to tell from forgeries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

# The canaries the ledger remembers. A store check that falls further behind counts the ones it
# never saw as written and dropped (its own max_pending is smaller anyway).
KEEP = 10_000
Key = tuple[str, int]  # run_id, seq: one canary, however many copies of it a store holds
# A key made at start-up, when no key file is given: as long as HMAC-SHA256's block.
KEY_BYTES = 32
# The signature's hex digits: HMAC-SHA256 cut to 128 bits, as RFC 2104 section 5 allows.
SIGNATURE_HEX = 32
# What is signed names what it is, so that the key signs nothing else by mistake.
PURPOSE = b"smoke-test-exporter canary v1"


def signed_text(run_id: str, seq: int, instance: str) -> bytes:
    """The canary's fields as signed: each as ``<bytes>:<value>,`` (a netstring), so that no
    two sets of fields make the same text, whatever characters they hold."""
    parts = (PURPOSE, *(str(p).encode("utf-8", "surrogatepass") for p in (run_id, seq, instance)))
    return b"".join(b"%d:%s," % (len(part), part) for part in parts)


@dataclass(frozen=True)
class Canary:
    """One canary line: the run it belongs to, its number in this process, its instance and
    its signature."""

    run_id: str
    seq: int
    instance: str
    written: float  # Unix time it was handed to the sinks
    signature: str  # hex HMAC-SHA256 of run_id, seq and instance, under the ledger's key
    # What tells this canary from every other, in any store; looked up for every canary of
    # every run, so it is made once.
    key: Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.run_id, self.seq))


class CanaryLedger:
    """Numbers each canary 1, 2, 3, …, signs it, and keeps the newest for the store checks.

    The key is ``key`` (read from --smoke-test.canary-key-file), or one made at start-up; it
    is never shown."""

    def __init__(self, instance: str, key: bytes | None = None, keep: int = KEEP) -> None:
        self.instance = instance
        self._secret = secrets.token_bytes(KEY_BYTES) if key is None else key
        self._written: deque[Canary] = deque(maxlen=keep)
        self.last_seq = 0

    def __repr__(self) -> str:
        return f"CanaryLedger(instance={self.instance!r}, last_seq={self.last_seq})"

    def sign(self, run_id: str, seq: int) -> str:
        """The signature of this instance's canary ``seq`` of ``run_id``."""
        mac = hmac.new(self._secret, signed_text(run_id, seq, self.instance), hashlib.sha256)
        return mac.hexdigest()[:SIGNATURE_HEX]

    def genuine(self, run_id: str, seq: int, signature: object) -> bool:
        """Whether ``signature`` is this instance's for canary ``seq`` of ``run_id``: made with
        this ledger's key. Compared in constant time."""
        if not isinstance(signature, str) or not signature.isascii():
            return False  # compare_digest takes ASCII text only
        return hmac.compare_digest(self.sign(run_id, seq), signature)

    def write(self, run_id: str) -> Canary:
        """The next canary of ``run_id``, signed, recorded as written now."""
        self.last_seq += 1
        seq = self.last_seq
        canary = Canary(run_id, seq, self.instance, time.time(), self.sign(run_id, seq))
        self._written.append(canary)
        return canary

    def after(self, seq: int) -> list[Canary]:
        """The remembered canaries numbered above ``seq``, oldest first."""
        newer: list[Canary] = []
        for canary in reversed(self._written):
            if canary.seq <= seq:
                break
            newer.append(canary)
        newer.reverse()
        return newer
