"""Serving: bind, announce, wait for SIGTERM or SIGINT, shut down gracefully."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter import __version__
from exporter.accept import LimitedSite, fd_room
from exporter.app import KEEPALIVE_TIMEOUT, create_app, runner_options
from exporter.config import Settings
from exporter.fair import SURPLUS, Pool
from exporter.headers import HeadLimitedSite
from exporter.listen import bind
from exporter.metrics import create_connection_metrics
from exporter.plan import Plan
from exporter.web.keys import RELOADER
from exporter.webconfig.load import WebConfig

log = logging.getLogger("exporter")

BACKLOG = 1024


def _url(address: object, scheme: str) -> str:
    host, port = address[0], address[1]  # type: ignore[index]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def serve(settings: Settings, plan: Plan, web_config: WebConfig | None = None) -> int:
    """Run the exporter until a stop signal; 0 after a clean stop, 1 if it cannot listen,
    2 if its TLS files no longer load."""
    # Signals are caught from the start, so a stop during start-up is still a clean stop.
    received: asyncio.Future[signal.Signals] = asyncio.get_running_loop().create_future()

    def on_signal(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, on_signal, sig)
    try:
        ssl_context = web_config.ssl_context() if web_config is not None else None
    except ValueError as error:  # the files changed since main() checked them
        print(f"smoke-test-exporter: error: --web.config.file: {error}", file=sys.stderr)
        return 2
    # The port first: an exporter that cannot serve starts nothing, so it writes no canary.
    address = settings.listen_address
    try:
        sockets = bind(address)
    except OSError as error:
        print(f"smoke-test-exporter: cannot listen on {address}: {error}", file=sys.stderr)
        return 1
    registry = CollectorRegistry(auto_describe=True)
    app = create_app(settings, registry, web_config=web_config, plan=plan)
    counted = create_connection_metrics(registry)
    # One pool of connections for every listening socket; 0: none.
    cap = settings.max_connections
    pool = Pool(cap, counted.evicted, fd_room(cap)) if cap else None
    if pool is not None:
        app.on_response_prepare.append(pool.on_response_prepare)
    runner = web.AppRunner(app, handle_signals=False, **runner_options())
    await runner.setup()
    if pool is not None and pool.surplus < SURPLUS:  # logged once the log pipeline runs
        log.warning(
            "Few file descriptors: fewer connections wait accepted beyond --web.max-connections",
            extra={"waiting_at_most": pool.surplus, "instead_of": SURPLUS},
        )
    for sock in sockets:
        # A backlog for bursts of connections (aiohttp's default is 128); beyond
        # --web.max-connections and as many waiting accepted, they wait there. Both sites cap
        # each request's head.
        site = (
            HeadLimitedSite(
                runner,
                sock,
                counted.heads_refused,
                ssl_context=ssl_context,
                backlog=BACKLOG,
                handshake_timeout=KEEPALIVE_TIMEOUT,
            )
            if pool is None
            else LimitedSite(
                runner,
                sock,
                pool,
                counted.heads_refused,
                ssl_context=ssl_context,
                backlog=BACKLOG,
                handshake_timeout=KEEPALIVE_TIMEOUT,
            )
        )
        await site.start()
    # Everything made at start-up lives as long as the process: move it out of the collector's
    # way, so the full collections that run under load do not rescan it (shorter pauses).
    gc.collect()
    gc.freeze()
    log.info(
        "Listening",
        extra={
            "version": __version__,
            "urls": [_url(a, "http" if ssl_context is None else "https") for a in runner.addresses],
            "log_file": str(settings.log_file) if settings.log_file else None,
            "interval_seconds": settings.interval_seconds,
            "timeout_seconds": settings.timeout_seconds,
        },
    )
    # SIGHUP reloads --config.file, as Prometheus does; one reload at a time, in order.
    reloads: set[asyncio.Task[str | None]] = set()

    def on_hup() -> None:
        task = asyncio.ensure_future(app[RELOADER].reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_hup)
    log.info("Shutting down", extra={"signal": (await received).name})
    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
    for task in reloads:
        task.cancel()
    await runner.cleanup()
    return 0
