"""--web.max-connections: sites that serve at most N connections at once, shared fairly between
client addresses (exporter.fair), as with Prometheus' flag of that name (Go's
netutil.LimitListener). Beyond the cap, connections wait accepted (up to exporter.fair.SURPLUS),
then in the kernel's listen backlog. While one waits, every answer closes its connection after
it, so a kept-alive client cannot hold a slot that a new one (a liveness probe) waits for.
Each connection's request heads are capped too (exporter.headers)."""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
import socket
import ssl
from collections.abc import Callable

from aiohttp import web
from prometheus_client import Counter

from exporter.addresses import address_key
from exporter.connection import Connection
from exporter.fair import SURPLUS, Pool
from exporter.headers import HeadLimitedSite

log = logging.getLogger("exporter")

# How long the accept loop pauses when the process is out of file descriptors (EMFILE), as
# asyncio's own accept loop pauses (base_events' ACCEPT_RETRY_DELAY).
ACCEPT_RETRY_SECONDS = 1.0
# Descriptors the exporter needs besides its connections: log files and sinks, the checks'
# connections and files, the event loop's own.
FD_RESERVE = 256


def fd_room(size: int, surplus: int = SURPLUS) -> int:
    """How many connections may wait accepted beyond ``size`` (at most ``surplus``) within the
    process's descriptor limit and FD_RESERVE; the soft limit is raised first, as far as the
    hard one allows, as Go's runtime raises it for every Go program (Prometheus among them)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = size + surplus + FD_RESERVE
    if soft == resource.RLIM_INFINITY:
        return surplus
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return max(0, min(surplus, soft - size - FD_RESERVE))


class Acceptor(asyncio.AbstractServer):
    """An accept loop on one listening socket that takes room in the pool before each accept.
    What aiohttp's runner asks of a server: ``sockets`` (for its addresses) and ``close()``."""

    def __init__(
        self,
        sock: socket.socket,
        pool: Pool,
        factory: Callable[[], asyncio.Protocol],
        *,
        refused: Counter,
        ssl_context: ssl.SSLContext | None,
        handshake_timeout: float,
    ) -> None:
        self._sock = sock
        self._pool = pool
        self._factory = factory
        self._refused = refused
        self._ssl_context = ssl_context
        self._handshake_timeout = handshake_timeout
        self._loop = asyncio.get_running_loop()
        self._pending: set[asyncio.Task[None]] = set()
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
        """Stop accepting, drop the connections waiting for a slot and the handshakes under
        way, and close the listening socket; the connections made are the runner's to close."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._accepting.cancel()
        for task in self._pending:
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

    async def _reserve(self) -> None:
        pool = self._pool
        if not pool.has_room():  # every slot and place is taken: does anyone wait?
            await self._readable()
            pool.watching += 1
            try:
                await pool.reserve()
            finally:
                pool.watching -= 1
        else:
            await pool.reserve()

    async def _accept(self) -> None:
        while True:
            await self._reserve()
            try:
                conn, peer = await self._loop.sock_accept(self._sock)
            except OSError as error:  # EMFILE, ENFILE, ENOBUFS...: the peer waits in the backlog
                self._pool.unreserve()
                log.warning("Cannot accept a connection", extra={"error": str(error)})
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            except BaseException:
                self._pool.unreserve()
                raise
            connection = Connection(self._pool, address_key(peer[0]))
            granted = self._pool.admit(connection)
            # The wait for a slot and a TLS handshake go on beside the loop, never in its way.
            task = self._loop.create_task(self._connect(conn, connection, granted))
            connection.task = task
            self._pending.add(task)
            task.add_done_callback(functools.partial(self._connected, conn, connection))

    async def _connect(
        self, conn: socket.socket, connection: Connection, granted: asyncio.Future[None]
    ) -> None:
        await granted
        await self._loop.connect_accepted_socket(
            lambda: connection.wrap(self._factory(), self._refused),
            conn,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None,
        )
        connection.task = None

    def _connected(
        self, conn: socket.socket, connection: Connection, task: asyncio.Task[None]
    ) -> None:
        """When no connection was made (a failed or timed-out handshake, a peer gone, an
        eviction, a stop, even before the task ran), its slot or place is free again. A
        connection once made gives it back when it is lost."""
        self._pending.discard(task)
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:
            conn.close()
            self._pool.release(connection)
        if error is not None and not isinstance(error, OSError | TimeoutError):
            log.error("Cannot serve a connection", exc_info=error)


class LimitedSite(HeadLimitedSite):
    """A site on a bound socket whose connections, with those of the sites sharing ``pool``,
    hold at most ``pool``'s slots at once; their heads are capped as HeadLimitedSite's."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        pool: Pool,
        refused: Counter,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        handshake_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            runner,
            sock,
            refused,
            ssl_context=ssl_context,
            backlog=backlog,
            handshake_timeout=handshake_timeout,
        )
        self._pool = pool

    async def _serve(self, factory: Callable[[], asyncio.Protocol]) -> asyncio.AbstractServer:
        self._sock.listen(self._backlog)
        self._sock.setblocking(False)
        return Acceptor(
            self._sock,
            self._pool,
            factory,
            refused=self._refused,
            ssl_context=self._ssl_context,
            handshake_timeout=self._handshake_timeout,
        )
