"""--web.max-connections: sites that hold at most N connections open at once; the others wait
in the kernel's listen backlog until one closes, as with Prometheus' flag of that name (Go's
netutil.LimitListener). While one waits, every answer closes its connection after it, so a
kept-alive client cannot hold a slot that a new one (a liveness probe) waits for. Each
connection's request heads are capped too (exporter.headers)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable

from aiohttp import hdrs, web

from exporter.headers import HeadLimit, site_name

log = logging.getLogger("exporter")

# How long the accept loop pauses when the process is out of file descriptors (EMFILE), as
# asyncio's own accept loop pauses (base_events' ACCEPT_RETRY_DELAY).
ACCEPT_RETRY_SECONDS = 1.0


class Pool:
    """The connection slots every site shares, and whether a connection waits for one."""

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.waiting = 0  # accept loops that saw a connection in their backlog and wait

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """An app's on_response_prepare signal: while a connection waits, no keep-alive."""
        if self.waiting:
            response.force_close()
            # aiohttp has prepared its headers (keep-alive) by now: tell the client too.
            response.headers[hdrs.CONNECTION] = "close"


class Slot:
    """One connection's hold on the pool, given back exactly once."""

    __slots__ = ("_held", "_slots")

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


class Counted(asyncio.Protocol):
    """The app's protocol for one connection, which gives its slot back when the connection is
    lost. Every call of the transport is passed on as it is."""

    __slots__ = ("_inner", "_slot")

    def __init__(self, inner: asyncio.Protocol, slot: Slot) -> None:
        self._inner = inner
        self._slot = slot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._slot.release()
        self._inner.connection_lost(exc)


class Acceptor(asyncio.AbstractServer):
    """An accept loop on one listening socket that takes a slot before each accept. What
    aiohttp's runner asks of a server: ``sockets`` (for its addresses) and ``close()``."""

    def __init__(
        self,
        sock: socket.socket,
        pool: Pool,
        factory: Callable[[], asyncio.Protocol],
        ssl_context: ssl.SSLContext | None,
        handshake_timeout: float,
    ) -> None:
        self._sock = sock
        self._pool = pool
        self._factory = factory
        self._ssl_context = ssl_context
        self._handshake_timeout = handshake_timeout
        self._loop = asyncio.get_running_loop()
        self._handshakes: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()
        self._accepting = self._loop.create_task(self._accept())

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed.is_set() else (self._sock,)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return not self._closed.is_set()

    def close(self) -> None:
        """Stop accepting, drop the handshakes under way and close the listening socket; the
        connections already made are the runner's to close."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._accepting.cancel()
        for task in self._handshakes:
            task.cancel()
        self._sock.close()

    async def start_serving(self) -> None:
        """It serves from the start."""

    async def serve_forever(self) -> None:
        await self._closed.wait()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _readable(self) -> None:
        """Until a connection waits in the backlog."""
        ready = self._loop.create_future()
        fd = self._sock.fileno()

        def on_readable() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_reader(fd, on_readable)
        try:
            await ready
        finally:
            self._loop.remove_reader(fd)

    async def _take_slot(self) -> Slot:
        slots = self._pool.slots
        if slots.locked():  # every slot is taken: does anyone wait?
            await self._readable()
            self._pool.waiting += 1
            try:
                await slots.acquire()
            finally:
                self._pool.waiting -= 1
        else:
            await slots.acquire()
        return Slot(slots)

    async def _accept(self) -> None:
        while True:
            slot = await self._take_slot()
            try:
                conn, _ = await self._loop.sock_accept(self._sock)
            except OSError as error:  # EMFILE, ENFILE, ENOBUFS...: the peer waits in the backlog
                slot.release()
                log.warning("Cannot accept a connection", extra={"error": str(error)})
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            except BaseException:
                slot.release()
                raise
            # A TLS handshake takes round trips: it goes on beside the loop, never in its way.
            task = self._loop.create_task(self._connect(conn, slot))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: socket.socket, slot: Slot) -> None:
        try:
            await self._loop.connect_accepted_socket(
                lambda: Counted(HeadLimit(self._factory()), slot),
                conn,
                ssl=self._ssl_context,
                ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None,
            )
        except BaseException as error:
            # No connection was made (a failed or timed-out handshake, a peer gone, a stop):
            # the slot is free again. A connection once made gives it back when it is lost.
            conn.close()
            slot.release()
            if not isinstance(error, OSError | TimeoutError):
                raise


class LimitedSite(web.BaseSite):
    """A site on a bound socket whose connections, with those of the sites sharing ``slots``,
    are at most ``pool``'s size at once."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        pool: Pool,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        handshake_timeout: float = 60.0,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._sock = sock
        self._pool = pool
        self._handshake_timeout = handshake_timeout
        self._name = site_name(sock, ssl_context)

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # the runner is set up before a site is made
        self._sock.listen(self._backlog)
        self._sock.setblocking(False)
        self._server = Acceptor(
            self._sock, self._pool, server, self._ssl_context, self._handshake_timeout
        )
