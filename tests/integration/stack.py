"""Prometheus and Alertmanager as real processes on loopback, with temporary data directories."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

# Alertmanager for the tests: no receiver to call, and groups flushed at once.
ALERTMANAGER_CONFIG = {
    "route": {
        "receiver": "null",
        "group_wait": "100ms",
        "group_interval": "100ms",
        "repeat_interval": "1h",
    },
    "receivers": [{"name": "null"}],
}


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago: bind port 0, read it, close."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(what: str, fetch: Callable[[], T], until: Callable[[T], bool], timeout: float) -> T:
    """Call ``fetch`` every 0.1 s until ``until`` accepts its result; fail with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s; last seen: {result!r}")
        time.sleep(0.1)


def get_json(url: str, timeout: float = 5) -> Any:
    """The JSON body of a GET, also when the status is an error (Prometheus explains in JSON)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


# A PromQL duration (`5m`, `1h30m`), alone or inside a range or subquery: `[5m]`, `[1h:1m]`.
DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
RANGE = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w|y))+)(?::((?:\d+(?:ms|s|m|h|d|w|y))*))?\]")


def _scale_duration(duration: str, factor: float) -> str:
    """``duration`` times ``factor``, in whole milliseconds (Prometheus's finest unit)."""
    seconds = sum(int(n) * SECONDS[unit] for n, unit in DURATION_PART.findall(duration))
    milliseconds = max(1, round(seconds * factor * 1000))
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def _scale_ranges(expr: str, factor: float) -> str:
    def scale(match: re.Match[str]) -> str:
        window = _scale_duration(match.group(1), factor)
        if match.group(2) is None:
            return f"[{window}]"
        step = _scale_duration(match.group(2), factor) if match.group(2) else ""
        return f"[{window}:{step}]"

    return RANGE.sub(scale, expr)


def scaled(rules: dict[str, Any], factor: float) -> dict[str, Any]:
    """A test copy of a rule file on a faster clock: every `for`, every range and subquery in
    the expressions, and every group `interval`, times ``factor`` (1/60 makes minutes
    seconds). Thresholds, ratios and annotations are unchanged, so each alert fires and
    resolves as the shipped one does, ``1 / factor`` times sooner."""
    groups = []
    for group in rules["groups"]:
        copy = {**group, "rules": []}
        if "interval" in group:
            copy["interval"] = _scale_duration(group["interval"], factor)
        for rule in group["rules"]:
            faster = {**rule, "expr": _scale_ranges(str(rule["expr"]), factor)}
            if "for" in rule:
                faster["for"] = _scale_duration(rule["for"], factor)
            copy["rules"].append(faster)
        groups.append(copy)
    return {**rules, "groups": groups}


def shorten_for(rules: dict[str, Any], duration: str) -> dict[str, Any]:
    """A copy of a rule file in which every `for:` is ``duration`` and nothing else changed."""
    return {
        **rules,
        "groups": [
            {
                **group,
                "rules": [
                    {**rule, "for": duration} if "for" in rule else dict(rule)
                    for rule in group["rules"]
                ],
            }
            for group in rules["groups"]
        ],
    }


class Server:
    """A server binary on 127.0.0.1:``port``, ready once ``/-/ready`` answers 200."""

    def __init__(self, argv: list[str], port: int, log: Path, timeout: float = 20) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            poll(f"{argv[0]} ready", self._ready, bool, timeout)
        except BaseException:
            self.kill()
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.process.args!r} exited {self.process.returncode}:\n{self.log.read_text()}"
            )
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                status: int = response.status
        except OSError:
            return False
        return status == 200

    def get(self, path: str, **params: str) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return get_json(self.url + path + query)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Alertmanager(Server):
    """Alertmanager with ALERTMANAGER_CONFIG and clustering off."""

    def __init__(self, binary: str, directory: Path) -> None:
        directory.mkdir()
        config = directory / "alertmanager.yml"
        config.write_text(yaml.safe_dump(ALERTMANAGER_CONFIG))
        port = free_port()
        super().__init__(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            port,
            directory / "alertmanager.log",
        )
        self.address = f"127.0.0.1:{port}"

    def alerts(self) -> list[dict[str, Any]]:
        """The active alerts (resolved ones are left out by the API)."""
        alerts: list[dict[str, Any]] = self.get("/api/v2/alerts", active="true")
        return alerts


class Pushgateway(Server):
    """Debian's prometheus-pushgateway, keeping its groups in memory only."""

    def __init__(self, binary: str, directory: Path) -> None:
        directory.mkdir()
        port = free_port()
        super().__init__(
            [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
            port,
            directory / "pushgateway.log",
        )
        self.address = f"127.0.0.1:{port}"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text: str = response.read().decode()
        return text


class ConfiguredPrometheus(Server):
    """Prometheus with a whole configuration of the test's, and rule files by name."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        config: dict[str, Any],
        rule_files: dict[str, dict[str, Any]],
    ) -> None:
        directory.mkdir()
        paths = []
        for name, rules in rule_files.items():
            path = directory / name
            path.write_text(yaml.safe_dump(rules, sort_keys=False))
            paths.append(str(path))
        (directory / "prometheus.yml").write_text(
            yaml.safe_dump({**config, "rule_files": paths}, sort_keys=False)
        )
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        super().__init__(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={self.address}",
            ],
            port,
            directory / "prometheus.log",
        )

    def result(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr``; a query error fails."""
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", f"{expr}: {answer}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


class Prometheus(Server):
    """Prometheus scraping one exporter every second as job `smoke-test-exporter`, with the
    rules of ``rules`` (alerts.yml) and of each file of ``rule_files`` (by name)."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        target: str,
        rules: dict[str, Any],
        alertmanager: str,
        scrape_configs: list[dict[str, Any]] | None = None,
        rule_files: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        directory.mkdir()
        paths = []
        for name, content in {"alerts.yml": rules, **(rule_files or {})}.items():
            path = directory / name
            path.write_text(yaml.safe_dump(content, sort_keys=False))
            paths.append(str(path))
        config = directory / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": paths,
                    "alerting": {
                        "alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "smoke-test-exporter",
                            "static_configs": [{"targets": [target]}],
                        },
                        *(scrape_configs or []),
                    ],
                }
            )
        )
        port = free_port()
        super().__init__(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            port,
            directory / "prometheus.log",
        )

    def query(self, expr: str) -> dict[str, Any]:
        """The whole /api/v1/query answer, so a caller can assert on `status` and `error`."""
        answer: dict[str, Any] = self.get("/api/v1/query", query=expr)
        return answer

    def result(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr``; a query error fails."""
        answer = self.query(expr)
        assert answer["status"] == "success", f"{expr}: {answer}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts, from /api/v1/alerts."""
        alerts: list[dict[str, Any]] = self.get("/api/v1/alerts")["data"]["alerts"]
        return alerts
