"""A store check's own CPU per run with canaries pending: the exporter's side only.

Two cases, for ``loki`` and ``file``:

- steady, at 10, 100 and 1 000 pending: N canaries pending (a store N runs behind); each run
  writes one more and the store now has the oldest, so each run asks for N + 1, finds one and
  keeps N pending. ``max_pending`` is set above N (its default is 1 000), so none is dropped.
- burst: each run writes 100 canaries and the store has them all when the check asks, so each
  run parses 100 lines and settles 100 found canaries: the most a run with 100 pending does.

For ``loki`` the store is a canned server in another process, pinned to the other CPU, which
answers the query with the line of the first run id it names (steady) or of every one (burst).
It takes a request line of up to 1 MiB, as Go's net/http does (Loki's server): at 1 000
pending the query names 1 001 run ids, a URL of about 36 KB.
For ``file`` the lines are appended before each run. The CPU is this process's (every thread),
from ``getrusage``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.procs import SERVER_CPU, free_port, server
from bench.runs import WRK_CPU
from exporter.checks.canaries import Canary, CanaryLedger
from exporter.checks.stores.book import CanaryBook, StoreOptions
from exporter.checks.stores.check import StoreCheck
from exporter.checks.stores.client import StoreClient
from exporter.checks.stores.file import FileStore
from exporter.checks.stores.follow import Follower
from exporter.checks.stores.loki import LokiOptions, LokiStore
from exporter.checks.stores.registry import Stores
from exporter.session import SharedSession
from exporter.verdict import RunInfo

PENDING = 100
INSTANCE = "bench"
# The canaries' signing key, shared with the canned Loki: its lines must verify as the real
# exporter's would, or the check counts them forged.
KEY = b"bench-canary-key-0123456789abcdef"


def line(canary: Canary) -> str:
    """The canary's log line, as the exporter writes it: its fields and signature."""
    return json.dumps(
        {
            "message": "m",
            "run_id": canary.run_id,
            "seq": canary.seq,
            "instance": canary.instance,
            "signature": canary.signature,
        }
    )


# Answers each query with the line of the first run id its regular expression names, or of
# every one (argv[2] "all").
CANNED = """
import json, re, sys
from aiohttp import web
from exporter.checks.canaries import CanaryLedger
LEDGER = CanaryLedger("bench", sys.argv[3].encode())
def line(run_id):
    seq = int(run_id, 16)
    canary = {"message": "m", "run_id": run_id, "seq": seq, "instance": "bench",
              "signature": LEDGER.sign(run_id, seq)}
    return json.dumps(canary)
async def query(request):
    ids = re.search(r"`([^`]*)`", request.query.get("query", "``")).group(1).split("|")
    ids = ids if sys.argv[2] == "all" else ids[:1]
    values = [[str(i), line(r)] for i, r in enumerate(filter(None, ids))]
    answer = {"status": "success", "data": {"resultType": "streams", "stats": {},
              "result": [{"stream": {"job": "smoke"}, "values": values}]}}
    return web.json_response(answer)
app = web.Application()
app.add_routes([web.get("/loki/api/v1/query_range", query), web.get("/ready", query)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None,
            max_line_size=1 << 20, max_field_size=1 << 20)
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Writer:
    """Writes canaries numbered so that each run id names its seq; ``ship`` puts them where
    the store check finds them."""

    def __init__(self, burst: bool, pending: int = PENDING) -> None:
        self.burst = burst
        self.pending = pending
        self.ledger = CanaryLedger(INSTANCE, KEY)
        options = StoreOptions(max_pending=max(1000, 2 * pending))
        series = Stores(CollectorRegistry(), self.ledger).series("central")
        self.book = CanaryBook(self.ledger, series, options)
        self._unshipped: list[Canary] = []
        if not burst:
            self._unshipped = self._write(pending)

    def _write(self, n: int) -> list[Canary]:
        return [self.ledger.write(f"{self.ledger.last_seq + 1:032x}") for _ in range(n)]

    def next_run(self) -> list[Canary]:
        """Write this run's canaries; the ones the store has by the time it is asked."""
        if self.burst:
            return self._write(self.pending)
        self._unshipped += self._write(1)
        return [self._unshipped.pop(0)]


async def _runs(
    check: StoreCheck, writer: Writer, runs: int, ship: Callable[[list[Canary]], None]
) -> float:
    """CPU seconds per run, after 20 runs of warm-up."""
    loop = asyncio.get_running_loop()
    cpu = 0.0
    found = writer.pending if writer.burst else 1
    for n in range(20 + runs):
        ship(writer.next_run())
        start = _cpu()
        result = await check(RunInfo("r" * 32, "bench", loop.time() + 5, 5))
        if n >= 20:
            cpu += _cpu() - start
        counts = result.detail["canaries"]
        assert counts["found"] == found * (n + 1), result
        assert counts["pending"] == (0 if writer.burst else writer.pending), result
    return cpu / runs


async def _loki(runs: int, burst: bool, pending: int) -> float:
    port = free_port()
    command = [sys.executable, "-c", CANNED, str(port), "all" if burst else "first", KEY.decode()]
    http = SharedSession()
    with server(command, f"http://127.0.0.1:{port}/ready", cpu=WRK_CPU):
        try:
            await http.open()
            options = LokiOptions(url=f"http://127.0.0.1:{port}", selector='{job="smoke"}')
            writer = Writer(burst, pending)
            check = StoreCheck(writer.book, LokiStore(StoreClient(http, options), options))
            return await _runs(check, writer, runs, lambda canaries: None)
        finally:
            await http.close()


async def _file(runs: int, burst: bool, pending: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "central.log"
        path.write_text("")
        writer = Writer(burst, pending)
        check = StoreCheck(writer.book, FileStore(Follower(path), OrderedDict()))

        def append(canaries: list[Canary]) -> None:
            with path.open("a") as f:
                f.writelines(line(c) + "\n" for c in canaries)

        return await _runs(check, writer, runs, append)


CURVE = (10, 100, 1000)


def store_cpu_per_run(runs: int = 500) -> dict[str, float]:
    """Seconds of this process's CPU per store-check run, by kind and case: "loki steady 10",
    "loki steady 100", "loki steady 1000", "loki burst" (100 found a run), and the same for
    "file"."""
    os.sched_setaffinity(0, {SERVER_CPU})
    try:
        done: dict[str, float] = {}
        for kind, measure in (("loki", _loki), ("file", _file)):
            for pending in CURVE:
                done[f"{kind} steady {pending}"] = asyncio.run(measure(runs, False, pending))
            done[f"{kind} burst"] = asyncio.run(measure(runs, True, PENDING))
        return done
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
