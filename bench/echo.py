"""The WebSocket echo server the footprint's websocket check opens: python -m bench.echo PORT."""

from __future__ import annotations

import sys

from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.StreamResponse:
    """A WebSocket that answers each text message with itself; a plain GET (the bench asking
    whether it is up) gets 200."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        return web.Response(text="a WebSocket echo\n")
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    app = web.Application()
    app.router.add_get("/", echo)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
