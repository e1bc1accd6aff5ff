"""Load for the flood tests: wrk and its Lua scripts, process statistics, metric samples."""

from __future__ import annotations

import re
import resource
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.exporter_process import ExporterProcess
from tests.promtool import require

# Every endpoint in turn, one GET each.
ROTATE_LUA = """
local paths = {"/metrics", "/smoke-test", "/-/healthy", "/", "/-/ready", "/smoke-test/history"}
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end
"""

# Counts the answers marked cached; done() prints "RESULT cached=N fresh=M".
CACHED_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
cached, fresh = 0, 0
function response(status, headers, body)
  if string.find(body, '"cached": true', 1, true) then cached = cached + 1
  else fresh = fresh + 1 end
end
function done(summary, latency, requests)
  local c, f = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("cached"); f = f + t:get("fresh") end
  io.write(string.format("RESULT cached=%d fresh=%d\\n", c, f))
end
"""

# Hostile traffic: new unknown paths every time, wrong and unknown methods, odd headers,
# oversized bodies and malformed header names. `-- cover` walks every (path kind, method,
# profile) in turn, so a short run reaches every outcome; `-- random` draws them at random.
# HEAD is left out: wrk waits for a body after a HEAD answer and hangs. Unknown methods are
# left out: wrk refuses them.
SOAK_LUA = """
local function token()
  local t = {}
  for i = 1, math.random(4, 24) do t[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(t)
end
local kinds = {
  function() return "/metrics" end,
  function() return "/smoke-test" end,
  function() return "/health/smoke-test" end,
  function() return "/smoke-test/history" end,
  function() return "/-/healthy" end,
  function() return "/-/ready" end,
  function() return "/" end,
  function() return "/" .. token() end,
  function() return "/metrics/" .. token() .. "?" .. token() .. "=" .. token() end,
  function() return "/%e2%98%83/" .. token() .. "/%00" end,
  function() return "/-/" .. token() .. "?n=" .. token() end,
  function() return "/smoke-test?" .. token() .. "=%00%22" end,
  function() return "/metrics?name[]=" .. token() end,
}
-- PROPFIND is outside aiohttp's METH_ALL (the `other` method label). wrk parses the first
-- request it is given and refuses a method its parser does not know.
local methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"}
local odd = {
  function() return {["User-Agent"] = token() .. ' "quoted" \\\\ {"json": 1} ' .. token()} end,
  function() return {["Accept"] = "application/health+json"} end,
  function() return {["Accept"] = "application/openmetrics-text; version=1.0.0"} end,
  function() return {["Accept"] = "*/*;q=abc, text/plain;q=-1, " .. token()} end,
  function() return {["Accept-Encoding"] = "gzip"} end,
  function() return {["Accept-Encoding"] = "br, zstd, " .. token() .. ";q=0.5, *"} end,
  function() return {["X-Forwarded-For"] = "1.2.3.4, ::1, " .. token()} end,
  function() return {["X-Long"] = string.rep(token(), 200):sub(1, 6000)} end,
  function()
    local h = {}
    for i = 1, 60 do h["X-Many-" .. i] = token() end
    return h
  end,
  function() return {["Cookie"] = token() .. "=" .. token() .. "; a=%00"} end,
  function() return {["Host"] = token() .. ".example"} end,
  function() return {["Authorization"] = "Basic " .. token()} end,
  function() return {["Connection"] = "close"} end,
}
local big = string.rep("x", 2000)
-- A profile is the headers and body: plain, odd headers, a body over 1 KiB, a bad header name.
local function profile(p)
  if p == 1 then return {}, nil end
  if p == 2 then return odd[math.random(#odd)](), nil end
  if p == 3 then return {}, big end
  return {["X Bad"] = token()}, nil
end
local mode, i = "random", 0
function init(args) mode = args[1] or mode; math.randomseed(os.time()) end
function request()
  local k, m, p
  if mode == "cover" then
    k = i % #kinds + 1
    m = math.floor(i / #kinds) % #methods + 1
    p = math.floor(i / (#kinds * #methods)) % 4 + 1
    i = i + 1
  elseif i == 0 then
    -- wrk parses the first request itself and exits on a method it does not know.
    i = 1
    return wrk.format("GET", "/metrics")
  else
    k = math.random(#kinds)
    m = math.random() < 0.6 and 1 or math.random(#methods)
    local r = math.random()
    p = r < 0.4 and 1 or r < 0.96 and 2 or r < 0.98 and 3 or 4
  end
  local headers, body = profile(p)
  return wrk.format(methods[m], kinds[k](), headers, body)
end
"""


@dataclass(frozen=True)
class WrkResult:
    """What wrk printed, and when it ran (wall clock, comparable with log timestamps)."""

    output: str
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def requests(self) -> int:
        """Completed requests, as wrk counts them."""
        match = re.search(r"^\s*(\d+) requests in ", self.output, re.MULTILINE)
        assert match, self.output
        return int(match.group(1))

    @property
    def rate(self) -> float:
        match = re.search(r"^Requests/sec:\s+([\d.]+)", self.output, re.MULTILINE)
        assert match, self.output
        return float(match.group(1))

    @property
    def problems(self) -> list[str]:
        """wrk's lines about socket errors and non-2xx/3xx answers; printed only when any."""
        return [
            line.strip()
            for line in self.output.splitlines()
            if line.strip().startswith(("Socket errors:", "Non-2xx or 3xx responses:"))
        ]

    def result(self, key: str) -> int:
        """A value from the script's ``RESULT key=value`` line."""
        match = re.search(rf"^RESULT .*\b{key}=(\d+)", self.output, re.MULTILINE)
        assert match, self.output
        return int(match.group(1))


class Wrk:
    """wrk with one thread against an exporter, running a Lua script."""

    def __init__(
        self,
        url: str,
        script: str,
        directory: Path,
        *,
        connections: int,
        seconds: int,
        args: Sequence[str] = (),
    ) -> None:
        lua = directory / f"wrk-{time.monotonic_ns()}.lua"
        lua.write_text(script)
        argv = [require("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), url]
        if args:
            argv += ["--", *args]
        self.limit = seconds + 15
        self.started = time.time()
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def interrupt(self) -> None:
        """Stop early: on SIGINT wrk stops its threads and prints its summary."""
        self.process.send_signal(signal.SIGINT)

    def wait(self) -> WrkResult:
        output, _ = self.process.communicate(timeout=self.limit)
        result = WrkResult(output, self.started, time.time())
        assert self.process.returncode == 0, output
        return result


def wrk(
    url: str,
    script: str,
    directory: Path,
    *,
    connections: int,
    seconds: int,
    args: Sequence[str] = (),
) -> WrkResult:
    """Run wrk for ``seconds`` and return what it saw."""
    return Wrk(url, script, directory, connections=connections, seconds=seconds, args=args).wait()


def status_kib(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status, such as VmRSS or VmHWM (the peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def rss_mib(pid: int) -> float:
    return status_kib(pid, "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    return status_kib(pid, "VmHWM") / 1024


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def established(port: int) -> int:
    """Server-side TCP connections of the process listening on ``port`` (IPv4 loopback)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    # Columns: sl, local address (hex ip:port), remote address, state (01 is ESTABLISHED).
    # A set: the kernel writes the table in pieces, and a row can appear twice in one read.
    return len(
        {
            (cols[1], cols[2])
            for row in rows
            if (cols := row.split()) and int(cols[1].split(":")[1], 16) == port and cols[3] == "01"
        }
    )


def ensure_fd_limit(needed: int) -> None:
    """Raise this process's soft descriptor limit (children inherit it) to ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


def scrape(exporter: ExporterProcess) -> Samples:
    """Every sample on /metrics, keyed by name and label set."""
    response = exporter.get("/metrics")
    assert response.status == 200, response
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; a missing series fails."""
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


def counted(samples: Samples, name: str, **labels: str) -> float:
    """A counter's value; 0 for a labelled series not yet created (made at its first count)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    """The sum of ``name`` over all its label sets."""
    return sum(v for (n, _), v in samples.items() if n == name)


def series(samples: Samples) -> set[tuple[str, Labels]]:
    """The series (name and labels, no values), leaving out the process collector's."""
    return {key for key in samples if not key[0].startswith("process_")}


def messages(records: Iterable[dict[str, object]], logger: str) -> list[dict[str, object]]:
    """The records of one logger."""
    return [r for r in records if r["logger"] == logger]
