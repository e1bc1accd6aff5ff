"""A service with the smoke test inside it, run as a process for the integration tests:
``python -m tests.support.inside_host --framework fastapi|aiohttp --port N --log-dir DIR``.

It is built as a service is: its own route (GET /pets), its own middleware (X-Host), its own
/metrics on the client library's global registry, its own JSON logging set up in code. POST
/admin/logging changes that logging while it runs, so a test breaks and mends it without a
restart. Once bound, it prints ``{"port": N}`` on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import queue
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from aiohttp import web
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, Counter, make_asgi_app
from prometheus_client.aiohttp import make_aiohttp_handler
from pythonjsonlogger.json import JsonFormatter

from exporter.inside.aiohttp_app import smoke_test_app
from exporter.inside.fastapi_router import smoke_test_router
from exporter.inside.settings import InsideSettings

LOG_NAME = "host.log"
PETS = ["Rex", "Tom"]
HOST_HEADER = ("X-Host", "petsage")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
HANDLERS = ("file", "queue", "none")
LISTENER = ("start", "stop")

log = logging.getLogger("petsage")


class HostLogging:
    """The service's logging: root at INFO, a JSON FileHandler on ``log_dir/host.log``; or a
    QueueHandler whose QueueListener writes through that same FileHandler."""

    def __init__(self, log_dir: Path) -> None:
        self.file = logging.FileHandler(log_dir / LOG_NAME, encoding="utf-8")
        self.file.setFormatter(JsonFormatter(FORMAT))
        self.queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self.queue_handler = logging.handlers.QueueHandler(self.queue)
        self.listener = logging.handlers.QueueListener(self.queue, self.file)
        self.listening = False
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.file)

    def change(self, wanted: object) -> dict[str, object]:
        """Apply ``{"level": ..., "handlers": ..., "listener": ...}`` (any of them, in that
        order); ValueError names a key or value it does not know."""
        if not isinstance(wanted, dict):
            raise ValueError("the body must be a JSON object")
        for key in wanted:
            if key not in ("level", "handlers", "listener"):
                raise ValueError(f"{key}: unknown key (known: level, handlers, listener)")
        root = logging.getLogger()
        if "level" in wanted:
            root.setLevel(_choice(wanted, "level", LEVELS))
        if "handlers" in wanted:
            handlers = _choice(wanted, "handlers", HANDLERS)
            for handler in list(root.handlers):
                root.removeHandler(handler)
            if handlers != "none":
                root.addHandler(self.file if handlers == "file" else self.queue_handler)
            self._listen(handlers == "queue")
        if "listener" in wanted:
            self._listen(_choice(wanted, "listener", LISTENER) == "start")
        return self.state()

    def _listen(self, running: bool) -> None:
        if running and not self.listening:
            self.listener.start()
        elif self.listening and not running:
            self.listener.stop()
        self.listening = running

    def state(self) -> dict[str, object]:
        """The root logger's level, its handlers' classes and whether the listener runs."""
        root = logging.getLogger()
        return {
            "level": logging.getLevelName(root.level),
            "handlers": [type(handler).__name__ for handler in root.handlers],
            "listener": "running" if self.listening else "stopped",
        }


def _choice(wanted: dict[str, Any], key: str, known: Sequence[str]) -> str:
    value = wanted[key]
    if value not in known:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(known)}")
    return str(value)


def pets_listed() -> Counter:
    """The service's own series, on the global registry beside the smoke test's."""
    return Counter("petsage_pet_listings", "GET /pets answered.")


def aiohttp_service(settings: InsideSettings, logs: HostLogging) -> web.Application:
    """The aiohttp service: its route, middleware and /metrics, the smoke test as a sub-app."""
    listed = pets_listed()

    @web.middleware
    async def x_host(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        response.headers[HOST_HEADER[0]] = HOST_HEADER[1]
        return response

    async def pets(request: web.Request) -> web.Response:
        log.info("Listing pets")
        listed.inc()
        return web.json_response(PETS)

    async def admin(request: web.Request) -> web.Response:
        try:
            return web.json_response(logs.change(await request.json()))
        except ValueError as error:  # a body that is not JSON is a ValueError too
            return web.json_response({"error": str(error)}, status=400)

    app = web.Application(middlewares=[x_host])
    app.router.add_get("/pets", pets)
    app.router.add_post("/admin/logging", admin)
    app.router.add_get("/metrics", make_aiohttp_handler(REGISTRY))
    app.add_subapp("/health", smoke_test_app(settings, registry=REGISTRY))
    return app


def fastapi_service(settings: InsideSettings, logs: HostLogging) -> FastAPI:
    """The FastAPI service: its route, middleware and /metrics, the smoke test router."""
    listed = pets_listed()
    app = FastAPI(title="PetSage")

    @app.middleware("http")
    async def x_host(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers[HOST_HEADER[0]] = HOST_HEADER[1]
        return response

    @app.get("/pets")
    async def pets() -> list[str]:
        log.info("Listing pets")
        listed.inc()
        return PETS

    @app.post("/admin/logging")
    async def admin(request: Request) -> JSONResponse:
        try:
            return JSONResponse(logs.change(json.loads(await request.body())))
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    app.mount("/metrics", make_asgi_app(REGISTRY))
    app.include_router(smoke_test_router(settings, registry=REGISTRY))
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Set up logging, bind 127.0.0.1:``--port`` (0: any free port), announce it, serve."""
    parser = argparse.ArgumentParser(prog="inside_host")
    parser.add_argument("--framework", choices=("fastapi", "aiohttp"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--logger", default="petsage.smoke_test")
    parser.add_argument("--instance", default="petsage-1")
    parser.add_argument("--canary-key", type=bytes.fromhex, required=True)
    args = parser.parse_args(argv)
    logs = HostLogging(args.log_dir)
    settings = InsideSettings(
        config_file=args.config,
        logger=args.logger,
        interval_seconds=0,
        min_interval_seconds=0,
        instance=args.instance,
        canary_key=args.canary_key,
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    if args.framework == "aiohttp":
        web.run_app(aiohttp_service(settings, logs), sock=sock, access_log=None, print=None)
    else:
        # log_config None: uvicorn's loggers propagate to the root logger set up here.
        config = uvicorn.Config(
            fastapi_service(settings, logs), log_config=None, access_log=False, lifespan="on"
        )
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
