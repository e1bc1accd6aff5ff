"""The exporter's stdout as a pipe: drained by a reader (as a container runtime does), or stuck."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

STUCK_PIPE_SIZE = 4096


@contextlib.contextmanager
def drained_pipe() -> Iterator[int]:
    """A pipe's write end whose read end a thread empties as fast as it fills."""
    read_fd, write_fd = os.pipe()

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(read_fd, 1 << 16):
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield write_fd
    finally:
        os.close(write_fd)
        reader.join(10)
        os.close(read_fd)


@contextlib.contextmanager
def stuck_pipe() -> Iterator[int]:
    """A small pipe's write end, already full, that nobody reads."""
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, STUCK_PIPE_SIZE)
    os.set_blocking(write_fd, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_fd, b"x" * STUCK_PIPE_SIZE)
    os.set_blocking(write_fd, True)
    try:
        yield write_fd
    finally:
        os.close(read_fd)  # a writer blocked on it gets EPIPE and lets go
        os.close(write_fd)
