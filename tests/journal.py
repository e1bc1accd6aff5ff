"""The real journal on loopback: systemd-journal-remote takes entries over HTTP into a journal
file, systemd-journal-gatewayd serves that directory's entries on a port of our choosing.

A small shipper stands in for journald's capture of the exporter's stdout: it turns each new
line into the journal export format (MESSAGE, and the JSON's fields as RUN_ID, SEQ, INSTANCE,
as journald makes them of a structured line) and POSTs it to journal-remote's /upload.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.promtool import require
from tests.rsyslog import free_port

REMOTE = "/lib/systemd/systemd-journal-remote"
GATEWAY = "/lib/systemd/systemd-journal-gatewayd"


def export_entry(line: str, *, fields: bool = True) -> bytes:
    """One line in the journal export format: "KEY=value" lines, then an empty one."""
    entry = {
        "__REALTIME_TIMESTAMP": str(int(time.time() * 1_000_000)),
        "SYSLOG_IDENTIFIER": "smoke-test-exporter",
        "MESSAGE": line,
    }
    if fields:
        parsed = json.loads(line)
        for key in ("run_id", "seq", "instance"):
            if key in parsed:
                entry[key.upper()] = str(parsed[key])
    return "".join(f"{k}={v}\n" for k, v in entry.items()).encode() + b"\n"


class Journal:
    """journal-remote and gatewayd over one temporary directory; gatewayd stopped and started
    again on its port."""

    def __init__(self, directory: Path) -> None:
        self.remote_binary = require(REMOTE, "systemd-journal-remote")
        self.gateway_binary = require(GATEWAY, "systemd-journal-remote")
        self.activate = require("systemd-socket-activate", "systemd")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.upload_port = free_port(socket.SOCK_STREAM)
        self.port = free_port(socket.SOCK_STREAM)
        self.url = f"http://127.0.0.1:{self.port}"
        self.remote: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None
        self._shipped: dict[Path, int] = {}

    def start(self) -> None:
        with (self.directory / "remote.err").open("ab") as err:
            self.remote = subprocess.Popen(
                [
                    self.remote_binary,
                    "--split-mode=none",
                    f"--listen-http=127.0.0.1:{self.upload_port}",
                    f"--output={self.directory / 'remote.journal'}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        self._wait(self.upload_port, self.remote, "remote.err")
        self.start_gateway()

    def start_gateway(self) -> None:
        """gatewayd, socket-activated: it has no flag for its port (it listens on 19531)."""
        with (self.directory / "gatewayd.err").open("ab") as err:
            self.gateway = subprocess.Popen(
                [
                    self.activate,
                    f"--listen=127.0.0.1:{self.port}",
                    self.gateway_binary,
                    f"--directory={self.directory}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        self._wait(self.port, self.gateway, "gatewayd.err")

    def _wait(self, port: int, process: subprocess.Popen[bytes], log: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"exited {process.returncode}: {self.errors(log)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nothing listens on {port}: {self.errors(log)}")

    def errors(self, log: str) -> str:
        return (self.directory / log).read_text(errors="replace")

    def stop_gateway(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.kill()
            self.gateway.wait(10)

    def stop(self) -> None:
        self.stop_gateway()
        if self.remote is not None and self.remote.poll() is None:
            self.remote.kill()
            self.remote.wait(10)

    def upload(self, lines: list[str], *, fields: bool = True) -> None:
        """POST ``lines`` to journal-remote, as journald would have stored them."""
        if not lines:
            return
        body = b"".join(export_entry(line, fields=fields) for line in lines)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.upload_port}/upload",
            data=body,
            headers={"Content-Type": "application/vnd.fdo.journal"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 202  # journal-remote: "Accepted", with body OK.
        if self.gateway is not None and self.gateway.poll() is None:
            self.wait_stored(lines, fields=fields)

    def stored(self, field: str, value: str) -> int:
        """How many entries gatewayd serves with ``value`` in ``field``."""
        query = urllib.parse.urlencode({field: value})
        request = urllib.request.Request(
            f"{self.url}/entries?{query}", headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return sum(1 for line in answer.read().splitlines() if line.strip())

    def wait_stored(self, lines: list[str], *, fields: bool, timeout: float = 5.0) -> None:
        """Until gatewayd serves every copy of ``lines``, by MESSAGE and by RUN_ID, as a
        check asks: journal-remote writes in its own time, and a match on one field may see
        a new entry before a match on another does."""
        deadline = time.monotonic() + timeout
        for line in set(lines):
            wanted = [("MESSAGE", line)]
            if fields and '"run_id"' in line:
                wanted.append(("RUN_ID", json.loads(line)["run_id"]))
            for field, value in wanted:
                while self.stored(field, value) < lines.count(line):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"gatewayd never served {lines.count(line)} {line}")
                    time.sleep(0.02)

    def new_lines(self, path: Path) -> list[str]:
        """The lines of ``path`` not shipped yet; they count as shipped from now on."""
        text = path.read_text()
        done = self._shipped.get(path, 0)
        self._shipped[path] = len(text)
        return text[done:].splitlines()

    def ship(self, path: Path, *, fields: bool = True) -> list[str]:
        """Ship the new lines of ``path``; the lines shipped."""
        lines = self.new_lines(path)
        self.upload(lines, fields=fields)
        return lines
