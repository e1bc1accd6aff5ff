"""One scrape's cost at a real cadence: a server's CPU over scrapes spaced apart, on one
kept-alive connection with Prometheus' headers, less what it spends idle for as long."""

from __future__ import annotations

import http.client
import subprocess
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from bench.procs import cpu_seconds


@dataclass(frozen=True)
class Cadence:
    """CPU seconds over ``scrapes`` scrapes ``spacing`` apart, and over as long idle."""

    scrapes: int
    spacing: float
    cpu_seconds: float
    idle_cpu_seconds: float
    body_bytes: int  # one answer, as sent (gzip'd when asked)

    @property
    def cpu_per_scrape(self) -> float:
        """Seconds of CPU one scrape adds to the idle server."""
        return max(self.cpu_seconds - self.idle_cpu_seconds, 0.0) / self.scrapes


def _headers(lines: Sequence[str]) -> dict[str, str]:
    return {name.strip(): value.strip() for name, value in (h.split(":", 1) for h in lines)}


def scrape_cost(
    url: str,
    process: subprocess.Popen[bytes],
    headers: Sequence[str],
    scrapes: int = 300,
    spacing: float = 0.05,
) -> Cadence:
    """Scrape ``url`` ``scrapes`` times, one every ``spacing`` seconds, then stay idle as long."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    sent = _headers(headers)
    body_bytes = 0
    try:
        before = cpu_seconds(process.pid)
        start = time.monotonic()
        for n in range(scrapes):
            connection.request("GET", parts.path, headers=sent)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
            body_bytes = len(body)
            time.sleep(max(0.0, start + (n + 1) * spacing - time.monotonic()))
        busy = cpu_seconds(process.pid) - before
    finally:
        connection.close()
    before = cpu_seconds(process.pid)
    time.sleep(scrapes * spacing)
    idle = cpu_seconds(process.pid) - before
    return Cadence(scrapes, spacing, busy, idle, body_bytes)
