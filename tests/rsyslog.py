"""A real rsyslogd on loopback: imudp and imtcp on free ports, omfile into a temporary file."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.promtool import require

CONF = """\
global(workDirectory="{dir}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
action(type="omfile" file="{out}" flushOnTXEnd="on" asyncWriting="off")
"""


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
        self.conf.write_text(CONF.format(dir=directory, udp=self.udp, tcp=self.tcp, out=self.out))
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
