"""The bench's RSS by check type, its pure parts: the config files it starts the exporter
with, the medians of the starts, and the table. `make bench` measures; test_bench runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.footprint import Footprint, Sample, footprint_table, summarise, write_config
from bench.protocols import NAME, Peers, check
from exporter.checks.dns_options import DnsOptions
from exporter.checks.grpc_options import GrpcOptions
from exporter.checks.logging import LoggingOptions
from exporter.checks.websocket_options import WebSocketOptions
from exporter.config_file import load_checks

MB = 1024 * 1024
PEERS = Peers("127.0.0.1:50051", "127.0.0.1:5353", "ws://127.0.0.1:8080/")


def test_config_of_each_type_loads_as_the_exporter_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "checks.yml"
    write_config(path, ("grpc", "dns", "websocket"), PEERS)
    specs = load_checks(path, 2.0, "--config.file")
    assert [(s.name, s.type) for s in specs] == [
        ("logging", "logging"),
        ("grpc", "grpc"),
        ("dns", "dns"),
        ("websocket", "websocket"),
    ]
    logging, grpc, dns, websocket = (s.options for s in specs)
    assert logging == LoggingOptions()
    assert grpc == GrpcOptions(address="127.0.0.1:50051")
    assert dns == DnsOptions(query_name=NAME, server="127.0.0.1:5353")
    assert isinstance(websocket, WebSocketOptions)
    assert (websocket.url, websocket.send, websocket.expect_regex) == (
        "ws://127.0.0.1:8080/",
        "ping",
        "^ping$",
    )


def test_a_type_without_a_server_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^no server for a tcp check$"):
        check("tcp", PEERS)


def test_a_config_is_the_lower_median_of_its_starts_and_every_failure() -> None:
    samples = [
        Sample(40 * MB, 41 * MB, 0),
        Sample(38 * MB, 43 * MB, 2),
        Sample(39 * MB, 42 * MB, 1),
    ]
    assert summarise("x", samples) == Footprint("x", ready=39 * MB, after=42 * MB, failed=3)
    assert summarise("x", samples[:2]) == Footprint("x", ready=38 * MB, after=41 * MB, failed=2)


def test_table_shows_each_config_and_what_it_takes_over_the_default() -> None:
    footprints = [
        Footprint("default", ready=42 * MB, after=int(42.5 * MB), failed=0),
        Footprint("+ one grpc check", ready=int(45.7 * MB), after=int(46.3 * MB), failed=1),
        Footprint("+ one websocket check", ready=int(41.9 * MB), after=int(42.5 * MB), failed=0),
    ]
    assert footprint_table(footprints, 100) == "\n".join(
        [
            "| config | RSS once ready | RSS after 100 runs "
            "| more than the default: once ready | after the runs | failed runs |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            "| default | 42.0 MB | 42.5 MB | +0.0 MB | +0.0 MB | 0 |",
            "| + one grpc check | 45.7 MB | 46.3 MB | +3.7 MB | +3.8 MB | 1 |",
            "| + one websocket check | 41.9 MB | 42.5 MB | -0.1 MB | +0.0 MB | 0 |",
        ]
    )
