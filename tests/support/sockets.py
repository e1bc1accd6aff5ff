"""Sockets for tests: a loopback port that refuses connections."""

from __future__ import annotations

import socket


def refused_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
