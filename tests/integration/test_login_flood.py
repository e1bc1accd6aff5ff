"""A flood of wrong passwords from one address against the real process, and a right password
from another address beside it."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt

from tests.integration.conftest import Start
from tests.integration.load import Wrk, established
from tests.wait import wait_until

FLOOD_CONNECTIONS = 200
HONEST_ADDRESS = "127.0.0.2"  # the whole of 127/8 is the loopback: a second client address
# The cost basic_auth_users' hashes commonly have (Prometheus' docs use 10): each wrong
# password costs a real check, 80-270 ms on a 2-CPU machine.
COST = 10
PASSWORD = b"s3cret-first-use"
# Prometheus gives up on a scrape after 10 s by default. The honest login took 0.17-0.34 s on
# 2 idle CPUs, 0.56-1.47 s with the CPUs shared (load 9), 0.86-2.58 s beside stress-ng --cpu 2
# as well: the bound leaves room for a contended machine and stays well inside the timeout.
SCRAPE_TIMEOUT_SECONDS = 10.0
HONEST_BOUND_SECONDS = 5.0
# --web.max-connections' default: the flood holds every slot, and the rest of it waits in the
# kernel's backlog, as the honest client's connection does.
MAX_CONNECTIONS = 100


def basic(user: str, password: bytes) -> str:
    return "Basic " + base64.b64encode(user.encode() + b":" + password).decode()


# wrk from 127.0.0.1: a new wrong password each request; done() prints the answers by status.
GUESSES = 1000
FLOOD_LUA = (
    "local guesses = {"
    + ", ".join(f'"{basic("alice", f"wrong-{n}".encode())}"' for n in range(GUESSES))
    + """}
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", "/metrics", {Authorization = guesses[(i - 1) % #guesses + 1]})
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
s401, s429, other = 0, 0, 0
function response(status, headers, body)
  if status == 401 then s401 = s401 + 1
  elseif status == 429 then s429 = s429 + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a, b, c = a + t:get("s401"), b + t:get("s429"), c + t:get("other")
  end
  io.write(string.format("RESULT s401=%d s429=%d other=%d\\n", a, b, c))
end
"""
)


def honest_login(host: str, port: int) -> tuple[float, bytes]:
    """GET /metrics with the right password, from HONEST_ADDRESS: seconds and the answer."""
    start = time.perf_counter()
    with socket.create_connection(
        (host, port), timeout=30, source_address=(HONEST_ADDRESS, 0)
    ) as sock:
        sock.sendall(
            f"GET /metrics HTTP/1.1\r\nHost: {host}\r\nAuthorization: {basic('alice', PASSWORD)}"
            "\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return time.perf_counter() - start, answer


def test_a_right_password_passes_quickly_beside_a_wrong_password_flood(
    start: Start, tmp_path: Path
) -> None:
    hashed = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(COST)).decode()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n", encoding="utf-8")
    exporter = start(f"--web.config.file={config}")
    parts = urlsplit(exporter.url)
    assert parts.hostname is not None
    assert parts.port is not None

    flood = Wrk(exporter.url, FLOOD_LUA, tmp_path, connections=FLOOD_CONNECTIONS, seconds=30)
    try:
        wait_until(
            lambda: established(parts.port or 0) >= MAX_CONNECTIONS,
            "the flood holds every connection slot",
        )
        seconds, answer = honest_login(parts.hostname, parts.port)
    finally:
        flood.interrupt()
    flooded = flood.wait()

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:300]
    assert b"\r\n\r\n# HELP " in answer
    assert seconds < HONEST_BOUND_SECONDS < SCRAPE_TIMEOUT_SECONDS
    # The flood was checked, and the most of it refused at once without a check.
    assert flooded.result("other") == 0
    assert flooded.result("s401") < flooded.result("s429")
    print(f"honest login {seconds:.3f} s; flood {flooded.output.splitlines()[-1]}")
