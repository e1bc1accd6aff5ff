"""The ``file`` sink: appends, reopens a moved file, and reads every canary back."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from exporter.sinks.base import OK, Batch, Reason, Sink, SinkDeps, SinkOutcome, SinkType
from exporter.sinks.series import SinkSeries

# Read-write, so the canary can be read back from the very descriptor it was written with.
FILE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
FILE_MODE = 0o644


@dataclass(frozen=True)
class FileOptions:
    """``type: file``: the file to append to (relative to the config file's directory)."""

    path: Path


def probe_log_file(path: Path) -> str | None:
    """Why ``path`` cannot be opened for appending, or None when it can."""
    try:
        os.close(os.open(path, FILE_FLAGS, FILE_MODE))
    except OSError as error:
        return str(error)
    return None


class FileSink(Sink):
    """Appends to a file, reopens it when it is moved or deleted, reads each canary back.

    The reopen test is logging.handlers.WatchedFileHandler's: compare the path's device and
    inode with the open descriptor's before each write. Writes go straight to the descriptor,
    so a failed write leaves nothing in a buffer to be repeated by the next flush.
    """

    def __init__(self, name: str, path: Path, series: SinkSeries) -> None:
        super().__init__(name, series)
        self.path = path
        # Only the sink's thread touches these; close() runs after that thread ends.
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def _ensure_open(self) -> int:
        try:
            st = os.stat(self.path)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            identity = None
        if self._fd is not None and identity == self._identity:
            return self._fd
        self.close()
        fd = os.open(self.path, FILE_FLAGS, FILE_MODE)
        st = os.fstat(fd)
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        return fd

    def close(self) -> None:
        """Close the descriptor; the next record reopens the path."""
        fd, self._fd, self._identity = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def deliver(self, batch: Batch) -> SinkOutcome:
        try:
            fd = self._ensure_open()
        except OSError as error:
            return SinkOutcome(False, Reason.OPEN, str(error))
        data = batch.data
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as error:
            if written:
                self._cut_partial(fd, written)
            return SinkOutcome(False, Reason.WRITE, str(error))
        if not batch.canaries:
            return OK
        try:
            # With O_APPEND the offset after write() is the end of our own bytes, even if
            # another process appended in between.
            base = os.lseek(fd, 0, os.SEEK_CUR) - len(data)
            for start, length in batch.canaries:
                back = os.pread(fd, length, base + start)
                if back != data[start : start + length]:
                    return SinkOutcome(
                        False,
                        Reason.VERIFY,
                        f"read back {len(back)} bytes at offset {base + start} that differ "
                        f"from the {length} bytes written",
                    )
        except OSError as error:
            return SinkOutcome(False, Reason.VERIFY, f"read-back failed: {error}")
        return OK

    @staticmethod
    def _cut_partial(fd: int, written: int) -> None:
        """Cut off our half-written line so the file keeps only whole JSON lines.

        Only when our bytes are still the file's last ones: never cut another writer's line.
        """
        with contextlib.suppress(OSError):
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if os.fstat(fd).st_size == end >= written:
                os.ftruncate(fd, end - written)


def build(name: str, options: FileOptions, deps: SinkDeps) -> Sink:
    """A file, appended to and read back."""
    return FileSink(name, options.path, deps.series)


TYPE = SinkType(FileOptions, build, "a file, appended to, reopened when moved, read back")
