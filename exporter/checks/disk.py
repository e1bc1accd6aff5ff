"""The ``disk`` check: a directory exists, has room, and takes a small file written and synced."""

from __future__ import annotations

import asyncio
import enum
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from exporter.checks.base import CheckDeps, CheckType
from exporter.options import Invalid
from exporter.verdict import Check, CheckResult, Component, Observed, RunInfo, Status

PROBE_PREFIX = ".smoke-test-exporter-probe-"
PROBE_BYTES = b"smoke-test-exporter disk probe\n"


class DiskReason(enum.Enum):
    """Why a disk check is not ok."""

    MISSING = "missing"  # the path does not exist
    NOT_DIR = "not_dir"  # it is not a directory
    FREE_SPACE = "free_space"  # less room than a threshold
    WRITE = "write"  # the probe file could not be written, synced, read back or removed


@dataclass(frozen=True)
class DiskOptions:
    """``type: disk``: the directory, the room it must have (fail) or should have (warn), and
    whether a file must be writable in it."""

    path: Path
    min_free_bytes: int | None = None
    min_free_ratio: float | None = None
    warn_free_bytes: int | None = None
    warn_free_ratio: float | None = None
    writable: bool = True

    def __post_init__(self) -> None:
        for name in ("min_free_bytes", "warn_free_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise Invalid(name, f"{value} must not be negative")
        for name in ("min_free_ratio", "warn_free_ratio"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise Invalid(name, f"{value} must be between 0 and 1")
        if self.min_free_bytes is None and self.min_free_ratio is None:
            raise Invalid("", "give min_free_bytes, min_free_ratio or both")


@dataclass(frozen=True)
class Room:
    """Free space as an unprivileged writer sees it."""

    free: int
    total: int

    @property
    def ratio(self) -> float:
        return self.free / self.total if self.total else 0.0


def build(name: str, options: DiskOptions, deps: CheckDeps) -> Check:
    """A check of one directory."""
    return DiskCheck(options)


class DiskCheck:
    """Looks at the directory from a thread, so a slow file system never blocks the loop."""

    def __init__(self, options: DiskOptions) -> None:
        self._options = options

    async def __call__(self, run: RunInfo) -> CheckResult:
        return await asyncio.to_thread(self.look)

    def look(self) -> CheckResult:
        """The verdict, from blocking file-system calls."""
        o = self._options
        component = Component("path", str(o.path))
        room = _room(o.path)
        if not isinstance(room, Room):
            return CheckResult(Status.FAIL, *room, component)
        observed = Observed(float(room.free), "bytes")
        reason, problem = (
            DiskReason.FREE_SPACE,
            _short(room, o.min_free_bytes, o.min_free_ratio, "min"),
        )
        if problem is None and o.writable:
            reason, problem = DiskReason.WRITE, _probe(o.path)
        if problem is not None:
            return CheckResult(Status.FAIL, reason, problem, component, observed)
        short = _short(room, o.warn_free_bytes, o.warn_free_ratio, "warn")
        if short is not None:
            return CheckResult(Status.WARN, DiskReason.FREE_SPACE, short, component, observed)
        return CheckResult(Status.OK, component=component, observed=observed)


def _room(path: Path) -> Room | tuple[DiskReason, str]:
    """The directory's free space, or why it has none to look at."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return DiskReason.MISSING, f"{path} does not exist"
    except OSError as error:
        return DiskReason.MISSING, f"cannot stat {path}: {error.strerror or error}"
    if not stat.S_ISDIR(mode):
        return DiskReason.NOT_DIR, f"{path} is not a directory"
    try:
        st = os.statvfs(path)
    except OSError as error:
        return DiskReason.MISSING, f"cannot statvfs {path}: {error.strerror or error}"
    return Room(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)


def _short(room: Room, free_bytes: int | None, ratio: float | None, prefix: str) -> str | None:
    """Why ``room`` is under a threshold, or None when it is not."""
    if free_bytes is not None and room.free < free_bytes:
        return (
            f"{size(room.free)} free ({percent(room.ratio)}), under {prefix}_free_bytes "
            f"{free_bytes} ({size(free_bytes)})"
        )
    if ratio is not None and room.ratio < ratio:
        return (
            f"{percent(room.ratio)} free ({size(room.free)}), under {prefix}_free_ratio {ratio:g} "
            f"({percent(ratio)})"
        )
    return None


def percent(ratio: float) -> str:
    """A ratio as people read it: ``3.1 %``."""
    return f"{ratio * 100:.1f} %"


def size(count: int) -> str:
    """A byte count as people read it, in binary units: ``512 B``, ``8.0 MiB``."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if value < 1024 or unit == "PiB":
            break
    return f"{value:.1f} {unit}"


def _probe(directory: Path) -> str | None:
    """Create, write, fsync, read back and remove a small file; why that failed, or None."""
    path = directory / f"{PROBE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as error:
        return f"cannot create {path}: {error.strerror or error}"
    problem = _write_back(fd, path)
    try:
        os.unlink(path)
    except OSError as error:
        problem = problem or f"cannot remove {path}: {error.strerror or error}"
    return problem


def _write_back(fd: int, path: Path) -> str | None:
    """Write, fsync and read back the probe bytes through ``fd``, then close it."""
    try:
        written = os.write(fd, PROBE_BYTES)
        os.fsync(fd)
        back = os.pread(fd, len(PROBE_BYTES), 0)
    except OSError as error:
        return f"cannot write {path}: {error.strerror or error}"
    finally:
        os.close(fd)
    if written != len(PROBE_BYTES) or back != PROBE_BYTES:
        return f"{path}: wrote {written} bytes and read back {len(back)} that differ"
    return None


TYPE = CheckType(
    DiskOptions,
    build,
    DiskReason,
    "a directory exists, has room, and takes a small file written, synced and read back",
    unit="bytes",
)
