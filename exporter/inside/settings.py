"""What the smoke test inside a service is configured with: the exporter's settings that apply
inside a service, and the logger the canary goes through."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from exporter.checks import NO_RETRIES
from exporter.config import DEFAULT_MESSAGE, MAX_KEY_BYTES, MIN_KEY_BYTES, parse_instance
from exporter.plan import CheckSpec

# The logger the canary goes through unless told otherwise: it has no handler of its own and
# propagates to the service's root logger, where a service's handlers usually are.
DEFAULT_LOGGER = "smoke_test"


@dataclass(frozen=True, kw_only=True)
class InsideSettings:
    """Read once, when the sub-app or router is made. ``config_file`` is the exporter's config
    file format (its ``checks`` only); ``checks`` are the same checks built in code; with
    neither, the one check is the logging check."""

    config_file: Path | str | None = None
    checks: tuple[CheckSpec, ...] | None = None
    logger: str = DEFAULT_LOGGER
    interval_seconds: float = 30.0  # between background runs; 0 turns them off
    timeout_seconds: float = 2.0  # each check's, unless the config file gives its own
    min_interval_seconds: float = 1.0  # an HTTP caller within it gets the last result
    message: str = DEFAULT_MESSAGE
    instance: str | None = None  # the canary's instance; None: the host name
    canary_key: bytes | None = None  # signs the canaries; None: a key made at start-up

    def __post_init__(self) -> None:
        if self.config_file is not None and self.checks is not None:
            raise ValueError("config_file and checks: give one, not both")
        for index, spec in enumerate(self.checks or ()):
            if spec.retries and spec.type in NO_RETRIES:
                raise ValueError(
                    f"checks[{index}].retries: a {spec.type} check takes no retries: each run "
                    "writes one canary, and the store checks count each canary once"
                )
        if not self.logger:
            raise ValueError("logger: the name is empty")
        if not self.message:
            raise ValueError("message: the message is empty")
        for key in ("interval_seconds", "min_interval_seconds"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{key}: {value!r} is not a number of seconds, 0 or more")
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise ValueError(f"timeout_seconds: {self.timeout_seconds!r} is not above 0")
        if self.instance is not None:
            try:
                parse_instance(self.instance)
            except ValueError as error:
                raise ValueError(f"instance: {error}") from None
        if self.canary_key is not None and not (
            MIN_KEY_BYTES <= len(self.canary_key) <= MAX_KEY_BYTES
        ):
            raise ValueError(f"canary_key: {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")
