"""Pipes that make a real stuck sink: small, full, and read by nobody until asked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

PIPE_SIZE = 4096


class StuckPipe:
    """A pipe whose write end is full: any further write blocks until ``drain`` is called."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        os.set_blocking(self.write_fd, False)
        self.filled = 0  # bytes of filler ahead of anything a writer sends later
        with contextlib.suppress(BlockingIOError):
            while True:
                self.filled += os.write(self.write_fd, b"x" * PIPE_SIZE)
        os.set_blocking(self.write_fd, True)
        self._reader: threading.Thread | None = None
        self._received = bytearray()

    def drain(self) -> None:
        """From now on, read everything written, so no writer blocks again."""

        def read() -> None:
            while chunk := os.read(self.read_fd, 65536):
                self._received += chunk

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    @property
    def received(self) -> bytes:
        """What writers sent after the filler, once drained."""
        return bytes(self._received[self.filled :])

    def close(self) -> None:
        if self._reader is None:
            os.close(self.read_fd)  # a writer still blocked gets EPIPE and lets go
            os.close(self.write_fd)
        else:
            os.close(self.write_fd)  # the reader sees EOF once everything is read
            self._reader.join(5)
            os.close(self.read_fd)


@contextlib.contextmanager
def stuck_pipe() -> Iterator[StuckPipe]:
    """A StuckPipe, closed on exit."""
    pipe = StuckPipe()
    try:
        yield pipe
    finally:
        pipe.close()
