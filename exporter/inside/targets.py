"""A host's log handler as the answer names it, and its file read back after a write."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from dataclasses import dataclass

# The most read back from a handler's file after the canary's write: the lines other threads
# wrote in the same few milliseconds come before it.
MAX_READ_BACK = 4 * 1024 * 1024


def describe(handler: logging.Handler) -> str:
    """``FileHandler /var/log/app.log``, ``StreamHandler <stderr>``, ``SysLogHandler
    127.0.0.1:514``: the handler's class and where it writes, after its name when it has one
    (logging.config names each handler by its key)."""
    kind = type(handler).__name__
    target = _target(handler)
    text = f"{kind} {target}" if target else kind
    return f"{handler.name} ({text})" if handler.name else text


def _target(handler: logging.Handler) -> str:
    path = getattr(handler, "baseFilename", None)
    if isinstance(path, str):
        return path
    if isinstance(handler, logging.handlers.SysLogHandler):
        return _address(handler.address)
    if isinstance(handler, logging.handlers.HTTPHandler):
        # The host alone: a log service's URL path may carry its API key (Loggly's does).
        return f"{'https' if handler.secure else 'http'}://{handler.host}"
    if isinstance(handler, logging.handlers.SocketHandler):  # DatagramHandler too
        return _address((handler.host, handler.port))
    if isinstance(handler, logging.StreamHandler):
        name = getattr(handler.stream, "name", None)
        return name if isinstance(name, str) else ""
    return ""


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) == 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


@dataclass(frozen=True)
class FileMark:
    """Where a handler's regular file ended before the canary was written."""

    path: str
    device: int
    inode: int
    size: int


def mark(handler: logging.Handler) -> FileMark | None:
    """The end of the handler's file, when it writes a regular file (one it may not have
    opened yet); None for a stream, a device such as /dev/null, or any other target."""
    path = getattr(handler, "baseFilename", None)
    if not isinstance(path, str):
        return None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return FileMark(path, -1, -1, 0)  # a FileHandler with delay=True, before its first line
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None  # a device or a pipe: confirmed by its write, as a stream is
    return FileMark(path, info.st_dev, info.st_ino, info.st_size)


def read_back(handler: logging.Handler, before: FileMark, line: str) -> str | None:
    """None when ``line`` (the text the handler formatted, and its terminator) is in what the
    file gained since ``before``; else what is wrong. A file rotated by the write (a
    RotatingFileHandler) is read from its start."""
    stream = getattr(handler, "stream", None)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    errors = getattr(stream, "errors", None) or "strict"
    wanted = (line + getattr(handler, "terminator", "\n")).encode(encoding, errors)
    try:
        with open(before.path, "rb") as file:
            info = os.fstat(file.fileno())
            same = (info.st_dev, info.st_ino) == (before.device, before.inode)
            start = before.size if same and info.st_size >= before.size else 0
            file.seek(start)
            gained = file.read(MAX_READ_BACK)
    except OSError as error:
        return f"cannot read back {before.path}: {error.strerror or type(error).__name__}"
    if wanted in gained:
        return None
    if not gained:
        return f"nothing was written to {before.path}"
    return f"the line read back from {before.path} is not the canary"
