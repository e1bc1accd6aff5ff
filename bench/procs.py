"""Starting the servers under test, and reading their CPU time and memory from /proc."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0  # servers are pinned here; wrk runs on the other core


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_for(url: str, timeout: float = 15.0, status: int = 200) -> float:
    """Poll ``url`` until it answers ``status``; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == status:
                    return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s")


@contextlib.contextmanager
def server(
    command: Sequence[str],
    ready_url: str,
    *,
    stdout: int | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cpu: int = SERVER_CPU,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` pinned to ``cpu``, wait until ``ready_url`` answers 200."""
    process = subprocess.Popen(
        ["taskset", "-c", str(cpu), *command],
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for(ready_url)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def exporter_command(port: int, log_file: Path, *extra: str) -> list[str]:
    """Ours, as users start it: the console script, JSON logs to stdout and a file."""
    script = str(Path(sys.executable).parent / "smoke-test-exporter")
    return [script, f"--web.listen-address=127.0.0.1:{port}", f"--log.file={log_file}", *extra]
