"""Sockets for tests: a loopback port that refuses connections, a connection from a chosen
loopback address, the connections a process holds, request heads of an exact size, and answers
read off a raw socket."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from yarl import URL

# Each padding field within aiohttp's limit on one field (8 190 bytes).
PAD_FIELD = 4000
SMALLEST_FIELD = len(b"X-P: p\r\n")


def refused_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connect(url: str, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    """A connection to ``url``'s host and port from ``source`` (loopback has the whole 127/8,
    so each test client can come from an address of its own)."""
    where = URL(url)
    assert where.host is not None
    assert where.port is not None
    return socket.create_connection((where.host, where.port), timeout, (source, 0))


def held_connections(pid: int, port: int) -> int:
    """The connections to ``port`` (IPv4) that process ``pid`` has accepted and not yet closed,
    whatever their TCP state: the ones waiting in its listen backlog are not its yet."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    # Columns: sl, local address (hex ip:port), remote, state (0A is LISTEN), ..., inode (10th).
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return len(
        {
            cols[9]
            for row in rows
            if (cols := row.split())
            and cols[9] in inodes
            and cols[3] != "0A"
            and int(cols[1].split(":")[1], 16) == port
        }
    )


def padded_head(size: int, path: bytes = b"/") -> bytes:
    """A GET's head of exactly ``size`` bytes, its blank line included, padded with fields."""
    start = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    pad = size - len(start) - len(b"\r\n")
    fields = b""
    while pad:
        assert pad >= SMALLEST_FIELD, f"{size} bytes cannot be padded"
        length = min(pad, PAD_FIELD)
        if 0 < pad - length < SMALLEST_FIELD:
            length -= SMALLEST_FIELD  # room for a last field
        fields += b"X-P: " + b"p" * (length - SMALLEST_FIELD + 1) + b"\r\n"
        pad -= length
    data = start + fields + b"\r\n"
    assert len(data) == size
    return data


class Answers:
    """The answers on one connection, one after another, and the end of it."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def next(self) -> tuple[str, dict[str, str], bytes]:
        """The next answer: its status line, its fields (names in lower case), its body."""
        status = self._file.readline().decode("latin-1").rstrip("\r\n")
        fields = {}
        while line := self._file.readline().decode("latin-1").rstrip("\r\n"):
            name, _, value = line.partition(":")
            fields[name.lower()] = value.strip()
        return status, fields, self._file.read(int(fields["content-length"]))

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        return self._file.read()
