"""The listening sockets, bound before anything else starts: a taken port writes no canary."""

from __future__ import annotations

import socket

from exporter.config import ListenAddress


def bind(address: ListenAddress) -> list[socket.socket]:
    """A bound socket for every address that ``address`` names (each interface's, when it has
    no host), set up as asyncio's ``create_server`` sets them up; OSError when one cannot be
    bound, with every socket closed."""
    infos = socket.getaddrinfo(
        address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, where in dict.fromkeys(infos):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:  # a family this host lacks, as asyncio skips it
                continue
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # Each family has its own socket, as asyncio binds them: no v4-mapped overlap.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(where)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(f"no address to listen on for {address}")
    return sockets
