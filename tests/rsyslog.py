"""A real rsyslogd on loopback, run with examples/rsyslog/: imudp and imtcp on free ports,
omfile into a temporary file, and the exporter's config that goes with it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.promtool import ROOT, require

EXAMPLE = ROOT / "examples" / "rsyslog"
# What a test machine changes in the examples, and nothing else: each text must be in its file
# exactly once, so that an edited example fails here instead of drifting from what is tested.
TCP_INPUT = 'type="imtcp" address="127.0.0.1" port="514"'
UDP_INPUT = 'type="imudp" address="127.0.0.1" port="514"'
OMFILE = 'file="/var/log/smoke-test/central.log"'
SINK_ADDRESS = "127.0.0.1:514"
STORE_PATH = "/var/log/smoke-test/central.log"


def substituted(path: Path, replacements: Mapping[str, str]) -> str:
    """The text of the example at ``path`` with each placeholder replaced; AssertionError when a
    placeholder is not in it exactly once."""
    text = path.read_text()
    for old, new in replacements.items():
        found = text.count(old)
        assert found == 1, f"{path}: {old!r} is there {found} times, not once"
        text = text.replace(old, new)
    return text


def named(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The sink or check called ``name`` in a parsed config file."""
    (entry,) = (e for e in entries if e["name"] == name)
    return entry


def free_port(kind: socket.SocketKind) -> int:
    """A port free for ``kind`` on loopback just now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_bound(port: int) -> bool:
    """True when a socket is bound to 127.0.0.1:``port`` over UDP (a row of /proc/net/udp)."""
    local = f"0100007F:{port:04X}"  # the address in the kernel's byte order, then the port
    rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(row.split()[1] == local for row in rows)


class Rsyslog:
    """rsyslogd in the foreground with a config of its own; started, killed and started again
    on the same ports."""

    def __init__(self, directory: Path) -> None:
        self.binary = require("rsyslogd", "rsyslog")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.out = directory / "central.log"
        # There before any exporter starts, as a deployed server's file is: the file store
        # check fails a path that has held no file since it began (a wrong path).
        self.out.touch()
        self.udp = free_port(socket.SOCK_DGRAM)
        self.tcp = free_port(socket.SOCK_STREAM)
        self.conf = directory / "rsyslog.conf"
        self.conf.write_text(
            substituted(
                EXAMPLE / "rsyslog.conf",
                {
                    TCP_INPUT: TCP_INPUT.replace('"514"', f'"{self.tcp}"'),
                    UDP_INPUT: UDP_INPUT.replace('"514"', f'"{self.udp}"'),
                    OMFILE: f'file="{self.out}"',
                },
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start rsyslogd and wait until its TCP input takes connections and its UDP input is
        bound (from then on a datagram waits in its socket, never refused)."""
        pid = self.directory / "rsyslogd.pid"
        pid.unlink(missing_ok=True)
        with (self.directory / "rsyslogd.err").open("ab") as err:
            self.process = subprocess.Popen(
                [self.binary, "-n", "-f", str(self.conf), "-i", str(pid)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"rsyslogd exited {self.process.returncode}: {self.errors}")
            try:
                socket.create_connection(("127.0.0.1", self.tcp), timeout=0.5).close()
            except OSError:
                time.sleep(0.05)
                continue
            if udp_bound(self.udp):
                return
            time.sleep(0.05)
        raise AssertionError(f"rsyslogd took no connection within {timeout}s: {self.errors}")

    @property
    def errors(self) -> str:
        return (self.directory / "rsyslogd.err").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def exporter_config(
        self,
        path: Path,
        sink: Mapping[str, str] | None = None,
        store: Mapping[str, str] | None = None,
    ) -> Path:
        """examples/rsyslog/smoke-test.yml at ``path``, aimed at this rsyslogd (its UDP port
        for ``protocol: udp``) and its file; ``sink`` and ``store`` are options a test varies,
        set on the sink named syslog and the check named central."""
        sink = sink or {}
        port = self.udp if sink.get("protocol") == "udp" else self.tcp
        text = substituted(
            EXAMPLE / "smoke-test.yml",
            {SINK_ADDRESS: f"127.0.0.1:{port}", STORE_PATH: str(self.out)},
        )
        document = yaml.safe_load(text)
        named(document["sinks"], "syslog").update(sink)
        named(document["checks"], "central").update(store or {})
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path
