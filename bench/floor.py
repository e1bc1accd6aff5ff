"""The floor: a minimal aiohttp app in the same Python and event loop, a 100-byte JSON answer."""

from __future__ import annotations

import sys

from aiohttp import web

BODY = (
    b'{"status": "ok", "message": "the floor: aiohttp and nothing else", "pad": "'
    + b"x" * 22
    + b'"}\n'
)  # 100 bytes


async def answer(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    app = web.Application()
    app.router.add_get("/", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
