"""A load balancer on loopback in front of a stand-in: it relays HTTP/1.1 requests and
answers (each with a Content-Length), and drops connections on purpose, as one does at its idle
timeout: the next request on a kept connection is read, then the connection closed unanswered."""

from __future__ import annotations

import asyncio
import enum
import re
import socket
import struct
from dataclasses import dataclass, field

from yarl import URL

LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r$", re.I | re.M)
HEAD_END = b"\r\n\r\n"


class Drop(enum.Enum):
    """Which requests the balancer reads and then drops."""

    NONE = "none"
    KEPT = "kept"  # every request after the first on a connection: a kept connection's
    NEW = "new"  # the first request on each connection: a new connection's


def _length(head: bytes) -> int:
    match = LENGTH.search(head)
    if b"\r\ntransfer-encoding:" in head.lower():
        raise ValueError("the balancer relays Content-Length bodies only")
    return int(match.group(1)) if match else 0


@dataclass
class Balancer:
    """Relays to ``upstream``; ``url`` once started. ``partial`` is written to a dropped
    request before the close; ``reset`` closes with a TCP reset rather than a FIN."""

    upstream: str
    drop: Drop = Drop.NONE
    partial: bytes = b""
    reset: bool = False
    connections: int = 0  # accepted, ever
    dropped: int = 0  # requests read and closed on
    url: str = ""
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def _drops(self, nth: int) -> bool:
        return (self.drop is Drop.NEW and nth == 1) or (self.drop is Drop.KEPT and nth > 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.add(writer)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            nth = 0
            while True:
                head = await reader.readuntil(HEAD_END)
                body = await reader.readexactly(_length(head))
                nth += 1
                if self._drops(nth):
                    self.dropped += 1
                    await self._close(writer)
                    return
                if upstream is None:
                    to = URL(self.upstream)
                    upstream = await asyncio.open_connection(to.host, to.port)
                upstream[1].write(head + body)
                answer = await upstream[0].readuntil(HEAD_END)
                writer.write(answer + await upstream[0].readexactly(_length(answer)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed a connection (one of its own, or one dropped above)
        finally:
            self._open.discard(writer)
            writer.close()
            if upstream is not None:
                upstream[1].close()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        """Close a connection whose request was read, after ``partial``."""
        if self.partial:
            writer.write(self.partial)
            await writer.drain()
        if self.reset:  # SO_LINGER with a zero timeout: close() sends a reset
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
