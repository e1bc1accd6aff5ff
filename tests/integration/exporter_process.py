"""The exporter as users run it: the console script in a subprocess, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.wait import wait_until

SCRIPT = str(Path(sys.executable).parent / "smoke-test-exporter")
# Successful scrapes and probes are counted, not logged, unless asked for: a test that counts
# every request's access line asks.
PROBES_LOGGED = "--log.access-probes=true"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON log, parsed; a partial last line fails."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"partial line in {path}: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


def finished_text(path: Path) -> str:
    """The lines of ``path`` that its writer has finished, for a test polling a log still being
    written: a reader can catch a write half done, so a last partial line is left out."""
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1].decode("utf-8")


def finished_lines(path: Path) -> list[dict[str, Any]]:
    """The finished lines of a JSON log, parsed."""
    return [json.loads(line) for line in finished_text(path).splitlines()]


def lines_once_whole(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON log that runs may be writing to, read when its last line is whole
    (a line being written is, in microseconds); a partial line that stays fails."""
    read = [b""]

    def whole() -> bool:
        read[0] = path.read_bytes()
        return read[0][-1:] in (b"", b"\n")

    wait_until(whole, f"{path} ends with a whole line")
    return [json.loads(line) for line in read[0].decode("utf-8").splitlines()]


class ExporterProcess:
    """A running exporter; its base URL comes from the "Listening" line in ``announce``."""

    def __init__(
        self,
        args: list[str],
        *,
        announce: Path,
        stdout: int,
        stderr: Path,
    ) -> None:
        self.stderr_path = stderr
        with stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [SCRIPT, "--web.listen-address=127.0.0.1:0", *args],
                stdout=stdout,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        try:
            self.url = self._wait_for_url(announce)
        except BaseException:
            self.kill()  # no fixture knows of it yet
            raise

    def _wait_for_url(self, announce: Path, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exporter exited {self.process.returncode}: {self.stderr}")
            for line in finished_text(announce).splitlines():
                if line.endswith("}") and json.loads(line).get("message") == "Listening":
                    return str(json.loads(line)["urls"][0])
            time.sleep(0.05)
        raise AssertionError(f"no Listening line in {announce} within {timeout}s")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_ready(self, timeout: float = 30) -> None:
        """Until /-/ready answers 200: the start-up run has ended, so a request made now starts
        a run of its own instead of joining that one (and counting as it)."""
        wait_until(lambda: self.get("/-/ready").status == 200, "/-/ready answers 200", timeout)

    def get(self, path: str, timeout: float = 10) -> Response:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return Response(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int:
        """Send ``sig`` and return the exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def open_output(path: Path) -> int:
    """A file descriptor to hand the exporter as its stdout."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
