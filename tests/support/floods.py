"""The issue's flood of request heads (issue 21): 1 MB heads, one client each, and the liveness
probe that runs beside it."""

from __future__ import annotations

import asyncio
import time

import aiohttp

# 126 fields of 8 000 bytes, about 1 MB a request, each field within aiohttp's limits.
HUGE = (
    b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    + b"".join(b"X-H%d: " % n + b"v" * 8000 + b"\r\n" for n in range(126))
    + b"\r\n"
)
# Kubernetes' default probe timeout is 1 s; this allows a loaded machine ten times that, and a
# probe fails on no answer.
PROBE_TIMEOUT = 10.0
PROBE_EVERY = 0.05


async def attack(host: str, port: int) -> str:
    """One client that sends a 1 MB head: the status line it is answered, or how it ended."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        return type(error).__name__
    try:
        writer.write(HUGE)
        await writer.drain()
        return (await reader.readline()).decode("latin-1").rstrip("\r\n") or "closed"
    except OSError as error:
        return type(error).__name__
    finally:
        writer.close()


async def probe(
    url: str, done: asyncio.Event, source: str = "127.0.0.1"
) -> list[tuple[int, float]]:
    """/-/healthy on a new connection from ``source`` each time, as the kubelet probes, until
    ``done``; the status and wait of each (status 0: no answer within PROBE_TIMEOUT)."""
    probes = []
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
    connector = aiohttp.TCPConnector(force_close=True, local_addr=(source, 0))
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        while not done.is_set():
            began = time.monotonic()
            try:
                async with session.get("/-/healthy") as response:
                    probes.append((response.status, time.monotonic() - began))
            except (aiohttp.ClientError, TimeoutError):
                probes.append((0, time.monotonic() - began))
            await asyncio.sleep(PROBE_EVERY)
    return probes
