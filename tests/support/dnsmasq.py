"""Debian's dnsmasq for the dns check's tests: in the foreground on a free 127.0.0.1 port, with
flags of its own (no /etc/dnsmasq.conf, resolv.conf or hosts file), serving only the records
it is given; stopped and started again on the same port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from tests.promtool import require

# The zone the tests' records live in: dnsmasq answers it alone (NXDOMAIN for a name it lacks).
ZONE = "example.test"
STARTS = 5  # tries with a new port, when another process took the free one meanwhile
DEADLINE = 10.0


def binary() -> str:
    """dnsmasq's path: /usr/sbin is not on every user's PATH."""
    return require(shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "dnsmasq")


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP just now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


class Dnsmasq:
    """One dnsmasq on 127.0.0.1: ``records`` are its flags that make records, as
    ``--host-record=www.example.test,192.0.2.1``."""

    def __init__(self, directory: Path, records: Sequence[str]) -> None:
        self.binary = binary()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.records = list(records)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it on a free port, trying another if the one chosen was taken meanwhile."""
        for _ in range(STARTS):
            self.port = free_port()
            if self._started():
                return
        raise AssertionError(f"dnsmasq did not start in {STARTS} tries: {self.log()}")

    def restart(self, records: Sequence[str]) -> None:
        """Stop it, and start it again on the same port serving ``records``."""
        self.stop()
        self.records = list(records)
        if not self._started():
            raise AssertionError(f"dnsmasq did not start again on {self.port}: {self.log()}")

    def _started(self) -> bool:
        """Start it on ``self.port``; True once it answers, False if the port was taken."""
        flags = [
            "--no-daemon",  # the foreground, one process, no pid file, no change of user
            "--log-facility=-",  # to stderr (the log file), not to syslog
            "--conf-file=/dev/null",  # not /etc/dnsmasq.conf
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",  # this address and port only: beside any dnsmasq of the host
            "--listen-address=127.0.0.1",
            f"--port={self.port}",
            f"--local=/{ZONE}/",  # answered here only: a name it lacks is NXDOMAIN
            *self.records,
        ]
        with (self.directory / "dnsmasq.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, *flags], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.log():
                    return False
                raise AssertionError(f"dnsmasq exited {self.process.returncode}: {self.log()}")
            if self._answers():
                return True
        self.stop()
        raise AssertionError(f"dnsmasq did not answer on {self.port}: {self.log()}")

    def _answers(self) -> bool:
        """Whether it answers a query over UDP, and takes a TCP connection."""
        query = dns.message.make_query(f"ready.{ZONE}", dns.rdatatype.A)
        try:
            dns.query.udp(query, "127.0.0.1", timeout=0.2, port=self.port)
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except (OSError, dns.exception.Timeout):
            time.sleep(0.02)  # refused at once: not bound yet
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)

    def log(self) -> str:
        path = self.directory / "dnsmasq.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def dnsmasq(directory: Path, records: Sequence[str]) -> Iterator[Dnsmasq]:
    """A running dnsmasq serving ``records``; killed at the end."""
    server = Dnsmasq(directory, records)
    try:
        server.start()
        yield server
    finally:
        server.stop()
