"""The worked examples in examples/: every exporter config passes --config.check, and each
shipper's config agrees with the exporter config beside it (the file, the labels, the index,
the canary's JSON fields). rsyslog also runs for real (tests/integration/test_rsyslog_chain.py);
Promtail and Filebeat are played here, by what their configs say, into the Loki and
Elasticsearch stand-ins."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main
from exporter.config import LogLevel
from tests.conftest import CANARY, Exporter, FakeServe, StartExporter
from tests.promtool import ROOT, require
from tests.rsyslog import named, substituted
from tests.standins.elasticsearch import Elasticsearch
from tests.standins.loki import Loki

EXAMPLES = ROOT / "examples"
RSYSLOG = EXAMPLES / "rsyslog"
LOKI = EXAMPLES / "loki"
ELASTICSEARCH = EXAMPLES / "elasticsearch"
# The exporter's file sink in the Loki and Elasticsearch examples, which their shippers tail.
SINK_PATH = "/var/log/smoke-test-exporter/exporter.log"
CANARY_FIELDS = ("run_id", "seq", "instance", "signature")
Ship = Callable[[list[str]], None]


def document(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def placed(path: Path, tmp_path: Path, url: str) -> tuple[Path, Path]:
    """The example exporter config at ``path`` with the file sink in ``tmp_path`` and the store
    at ``url``: the config's path, and the sink's."""
    store = document(path)["checks"][-1]["url"]
    sink = tmp_path / "exporter.log"
    config = tmp_path / "smoke-test.yml"
    config.write_text(substituted(path, {SINK_PATH: str(sink), store: url}))
    return config, sink


def following(path: Path) -> Iterator[list[str]]:
    """The lines added to ``path`` since the last call, as a tailing shipper reads them."""
    offset = 0
    while True:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        offset += len(complete)
        yield complete.decode().splitlines()


async def shipped_until_found(
    exporter: Exporter, sink: Path, ship: Ship, check: str
) -> dict[str, Any]:
    """Ship the sink's new lines before each run until ``check`` finds a canary: its answer."""
    deadline = time.monotonic() + 10
    lines = following(sink)
    while True:
        ship(next(lines))
        status, body = await exporter.smoke()
        if body["checks"][check]["canaries"]["found"] >= 1:
            assert status == 200, body
            return dict(body["checks"][check])
        if time.monotonic() > deadline:
            raise AssertionError(f"never found; last answer {status} {body}")
        await asyncio.sleep(0.05)


def test_every_example_config_passes_config_check(
    served: FakeServe, capsys: pytest.CaptureFixture[str]
) -> None:
    found = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*smoke-test.yml"))
    assert found == [
        "elasticsearch/smoke-test.yml",
        "loki/smoke-test.yml",
        "rsyslog/smoke-test.yml",
        "smoke-test.yml",
    ]
    answers = []
    for name in found:
        assert main(["--config.check", f"--config.file={EXAMPLES / name}"], {}) == 0
        answers.append(capsys.readouterr())
    assert [(a.out, a.err) for a in answers] == [
        ("config OK: 2 sinks, 2 checks\n", ""),
        ("config OK: 2 sinks, 2 checks\n", ""),
        ("config OK: 1 sinks, 2 checks\n", ""),
        ("config OK: 3 sinks, 8 checks\n", ""),
    ]
    assert served.calls == []


def test_the_rsyslog_example_validates_and_agrees_with_its_exporter_config() -> None:
    conf = (RSYSLOG / "rsyslog.conf").read_text()
    checked = subprocess.run(
        [require("rsyslogd", "rsyslog"), "-N1", "-f", str(RSYSLOG / "rsyslog.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    config = document(RSYSLOG / "smoke-test.yml")
    sink = named(config["sinks"], "syslog")
    assert (sink["address"], sink["protocol"]) == ("127.0.0.1:514", "tcp")
    assert 'input(type="imtcp" address="127.0.0.1" port="514" ruleset="smoke-test")' in conf
    assert re.findall(r'action\(type="omfile" file="([^"]+)"', conf) == [
        named(config["checks"], "central")["path"]
    ]


def test_promtail_tails_the_file_sink_with_the_labels_the_loki_check_selects() -> None:
    promtail = document(LOKI / "promtail.yml")
    config = document(LOKI / "smoke-test.yml")
    check = named(config["checks"], "loki")
    (client,) = promtail["clients"]
    assert client["url"] == check["url"] + "/loki/api/v1/push"
    (scrape,) = promtail["scrape_configs"]
    # No stage rewrites the line: it reaches Loki as the exporter wrote it.
    assert "pipeline_stages" not in scrape
    (target,) = scrape["static_configs"]
    labels = dict(target["labels"])
    assert labels.pop("__path__") == named(config["sinks"], "app-log")["path"] == SINK_PATH
    assert re.findall(r'(\w+)="([^"]*)"', check["selector"]) == list(labels.items())


def test_filebeat_puts_the_file_sinks_canary_fields_in_the_index_the_check_searches() -> None:
    filebeat = document(ELASTICSEARCH / "filebeat.yml")
    config = document(ELASTICSEARCH / "smoke-test.yml")
    check = named(config["checks"], "elasticsearch")
    (stream,) = filebeat["filebeat.inputs"]
    assert (stream["type"], stream["paths"]) == ("filestream", [SINK_PATH])
    assert named(config["sinks"], "app-log")["path"] == SINK_PATH
    (parser,) = stream["parsers"]
    assert parser["ndjson"]["target"] == ""  # the line's keys at the top: the check's field
    assert check["field"] == "run_id"
    output = filebeat["output.elasticsearch"]
    assert output["hosts"] == [check["url"]]
    assert fnmatch.fnmatchcase(daily(output["index"]), check["index"])
    assert filebeat["setup.template.pattern"] == check["index"]


def daily(index: str) -> str:
    """Filebeat's index name for today: ``%{+yyyy.MM.dd}`` is the event's UTC date."""
    name = index.replace("%{+yyyy.MM.dd}", datetime.now(UTC).strftime("%Y.%m.%d"))
    assert "%{" not in name, f"{index}: a format the test does not know"
    return name


def promtail(loki: Loki) -> Ship:
    """Promtail as promtail.yml configures it: each line whole, with its static labels and the
    `filename` label it adds."""
    (target,) = document(LOKI / "promtail.yml")["scrape_configs"][0]["static_configs"]
    labels = {k: v for k, v in target["labels"].items() if not k.startswith("__")}
    labels["filename"] = target["labels"]["__path__"]

    def ship(lines: list[str]) -> None:
        for line in lines:
            loki.push(line, labels)

    return ship


def filebeat(es: Elasticsearch) -> Ship:
    """Filebeat as filebeat.yml configures it: the raw line in `message`, then the ndjson
    parser's keys at the top (target ""), overwriting; into today's index."""
    config = document(ELASTICSEARCH / "filebeat.yml")
    (stream,) = config["filebeat.inputs"]
    (parser,) = stream["parsers"]
    assert parser["ndjson"] == {"target": "", "overwrite_keys": True, "add_error_key": True}
    index = daily(config["output.elasticsearch"]["index"])

    def ship(lines: list[str]) -> None:
        for line in lines:
            event = {
                "@timestamp": datetime.now(UTC).isoformat(),
                "message": line,
                "log": {"file": {"path": stream["paths"][0]}},
                "input": {"type": "filestream"},
            }
            event.update(json.loads(line))
            es.index(index, event)

    return ship


async def test_the_loki_example_finds_the_canary_promtail_ships(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    loki = Loki()
    await loki.start()
    try:
        config, sink = placed(LOKI / "smoke-test.yml", tmp_path, loki.url)
        exporter = await start_exporter(
            config_file=config, log_file=None, instance="web-1", log_level=LogLevel.ERROR
        )
        found = await shipped_until_found(exporter, sink, promtail(loki), "loki")
        assert found["status"] == "ok"
        assert found["newest"]["state"] == "found"
        asked = loki.requests[-1].query["query"]
        assert asked.startswith('{job="smoke-test-exporter"} |~ `')
        (line,) = (
            s.value
            for stream in loki.streams.values()
            for s in stream
            if found["newest"]["run_id"] in s.value
        )
        fields = json.loads(line)
        assert fields["message"] == CANARY
        assert (fields["seq"], fields["instance"]) == (found["newest"]["seq"], "web-1")
        assert all(fields[name] for name in CANARY_FIELDS)
    finally:
        await loki.stop()


async def test_the_elasticsearch_example_finds_the_canary_filebeat_indexes(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    es = Elasticsearch()
    await es.start()
    try:
        config, sink = placed(ELASTICSEARCH / "smoke-test.yml", tmp_path, es.url)
        exporter = await start_exporter(
            config_file=config, log_file=None, instance="web-1", log_level=LogLevel.ERROR
        )
        found = await shipped_until_found(exporter, sink, filebeat(es), "elasticsearch")
        assert found["status"] == "ok"
        assert found["newest"]["state"] == "found"
        assert es.requests[-1].path == "/smoke-test-exporter-*/_search"
        (index,) = es.indices
        (event,) = (
            s.value for _, s in es.indices[index] if s.value["run_id"] == found["newest"]["run_id"]
        )
        assert event["message"] == CANARY
        assert (event["seq"], event["instance"]) == (found["newest"]["seq"], "web-1")
        assert all(event[name] for name in CANARY_FIELDS)
    finally:
        await es.stop()
