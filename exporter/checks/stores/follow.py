"""Following a file that another process appends to: only new bytes, through rotation and
truncation."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

# The most read in one run; the rest waits for the next. A busy log cannot stall a run.
MAX_READ_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
# A line longer than this is dropped unread: no canary is that long.
MAX_LINE_BYTES = 1024 * 1024

Identity = tuple[int, int]  # device and inode


@dataclass(frozen=True)
class Place:
    """Where a line lies: in which file, generation (truncations so far) and offset."""

    identity: Identity
    generation: int
    offset: int
    length: int


class Follower:
    """Reads the lines appended to ``path`` since the last read, oldest first.

    It starts at the file's end: what was there before is not read. A file moved away is read
    to its end before the new file at ``path`` is read from its start (logrotate's create
    mode); a file cut shorter than what was read is read again from its start (copytruncate).
    A path that holds no regular file is an error, and so is one that has held none since the
    check began: a wrong path in the config must not pass for a quiet log or a late file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._identity: Identity | None = None
        self._offset = 0
        self.generation = 0
        self._partial = b""
        with contextlib.suppress(OSError):  # lines() says why; a file that comes is read whole
            self._open(start_at_end=True)

    def _open(self, *, start_at_end: bool) -> None:
        regular(os.stat(self.path))  # a fifo is never opened: its open waits for a writer
        # O_NONBLOCK in case a fifo took the file's place since; a regular file ignores it.
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        st = os.fstat(fd)
        try:
            regular(st)
        except OSError:
            os.close(fd)
            raise
        self.close()
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        self._offset = st.st_size if start_at_end else 0
        self._partial = b""

    def close(self) -> None:
        """Let go of the file."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def lines(self) -> Iterator[tuple[str, Place]]:
        """The whole lines appended since the last call (none while a file followed before is
        moved away); OSError when it cannot be read, is not a regular file, or never was there."""
        budget = MAX_READ_BYTES
        if self._fd is not None:
            budget -= yield from self._drain(budget)
        if budget <= 0:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._identity is None:
                raise  # never there since the check began: a wrong path, not a rotation
            # Moved away and not yet created again (the old file was read to its end): the
            # store holds nothing new, and pending canaries stay pending.
            return
        if (st.st_dev, st.st_ino) != self._identity:
            self._open(start_at_end=False)
        elif st.st_size < self._offset:
            self._offset, self._partial = 0, b""
            self.generation += 1
        yield from self._drain(budget)

    def _drain(self, budget: int) -> Generator[tuple[str, Place], None, int]:
        """Lines from the open file's offset to its end, at most ``budget`` bytes; returns the
        bytes read."""
        assert self._fd is not None
        assert self._identity is not None
        read = 0
        while read < budget:
            chunk = os.pread(self._fd, min(CHUNK_BYTES, budget - read), self._offset)
            if not chunk:
                break
            start = self._offset - len(self._partial)
            self._offset += len(chunk)
            read += len(chunk)
            data = self._partial + chunk
            *whole, self._partial = data.split(b"\n")
            for line in whole:
                yield (
                    line.decode("utf-8", "replace"),
                    Place(self._identity, self.generation, start, len(line)),
                )
                start += len(line) + 1
            if len(self._partial) > MAX_LINE_BYTES:
                self._partial = b""
        return read

    def reread(self, place: Place) -> str | None:
        """The line at ``place`` as the file holds it now; None when the file it was in is no
        longer the one followed, or was truncated since."""
        if self._fd is None or (place.identity, place.generation) != (
            self._identity,
            self.generation,
        ):
            return None
        data = os.pread(self._fd, place.length, place.offset)
        return data.decode("utf-8", "replace")


# What a path holds when it is no regular file, for the error that says so.
KINDS = {
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


def regular(st: os.stat_result) -> None:
    """Nothing for a regular file; else the OSError that says what the path holds instead."""
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    kind = KINDS.get(stat.S_IFMT(st.st_mode), "special file")
    raise OSError(errno.EINVAL, f"not a regular file but a {kind}")
