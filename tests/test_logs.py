"""The logging pipeline: JSON lines on every sink, levels, the access log, a bounded queue."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter.app import create_app
from exporter.config import LogLevel, Settings
from exporter.logs.formatter import JsonLineFormatter
from exporter.logs.pipeline import LogPipeline
from exporter.sinks import Reason
from exporter.sinks.file import FileSink
from exporter.sinks.series import SinkSeries
from exporter.sinks.stream import StreamSink
from tests.conftest import CANARY, StartExporter, json_lines
from tests.pipes import stuck_pipe
from tests.wait import until


def test_formatter_writes_timestamp_level_logger_message_and_context_fields() -> None:
    record = logging.LogRecord("exporter.x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    record.created = 1_800_000_000.25
    record.run_id = "abc"
    line = JsonLineFormatter().format(record)
    assert json.loads(line) == {
        "timestamp": "2027-01-15T08:00:00.250000+00:00",
        "level": "WARNING",
        "logger": "exporter.x",
        "message": "a b",
        "run_id": "abc",
    }
    assert line.startswith('{"timestamp": ')
    assert "\n" not in line


def test_formatter_keeps_one_line_for_newlines_quotes_nul_and_escapes() -> None:
    hostile = 'GET /\n{"level": "ERROR"}\x00\x1b[31m"'
    record = logging.LogRecord("x", logging.INFO, __file__, 1, hostile, None, None)
    line = JsonLineFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["message"] == hostile


def test_formatter_puts_a_traceback_in_exc_info() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info()
        )
    data = json.loads(JsonLineFormatter().format(record))
    assert data["message"] == "failed"
    assert data["exc_info"].startswith("Traceback (most recent call last):")
    assert data["exc_info"].endswith("ValueError: boom")


async def test_every_line_on_every_sink_is_json_with_the_four_fields(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(log_level=LogLevel.DEBUG)
    await exporter.smoke()
    async with exporter.client.get("/metrics"):
        pass
    await exporter.client.close()
    for lines in (exporter.stdout_lines(), exporter.file_lines()):
        assert len(lines) >= 6
        for line in lines:
            assert {"timestamp", "level", "logger", "message"} <= set(line)
    assert exporter.stdout_lines() == exporter.file_lines()


async def test_access_log_is_one_json_record_per_request(start_exporter: StartExporter) -> None:
    exporter = await start_exporter()
    async with exporter.client.get("/?x=1", headers={"User-Agent": "probe/1.0"}):
        pass
    await exporter.client.close()
    access = [line for line in exporter.file_lines() if line["logger"] == "aiohttp.access"]
    assert len(access) == 1
    line = access[0]
    assert line["level"] == "INFO"
    assert line["message"] == "GET / 200"
    assert line["method"] == "GET"
    assert line["path"] == "/?x=1"
    assert line["status"] == 200
    assert line["remote"] == "127.0.0.1"
    assert line["user_agent"] == "probe/1.0"
    assert line["duration_seconds"] >= 0


async def test_canary_is_written_at_level_error_and_nothing_below_it(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(log_level=LogLevel.ERROR)
    _, body = await exporter.smoke()
    async with exporter.client.get("/-/healthy"):
        pass
    await exporter.client.close()
    lines = exporter.file_lines()
    assert [(line["message"], line["trigger"]) for line in lines] == [
        (CANARY, "startup"),
        (CANARY, "http"),
    ]
    assert lines[1]["run_id"] == body["run_id"]


async def test_debug_level_logs_the_seeds_success_line_with_the_body(
    start_exporter: StartExporter,
) -> None:
    exporter = await start_exporter(log_level=LogLevel.DEBUG)
    _, body = await exporter.smoke()
    await exporter.client.close()
    prefix = "Smoke test successful. Response prepared: "
    lines = [line for line in exporter.file_lines() if line["message"].startswith(prefix)]
    mine = [line for line in lines if line["run_id"] == body["run_id"]]
    assert len(mine) == 1
    assert mine[0]["level"] == "DEBUG"
    assert json.loads(mine[0]["message"][len(prefix) :]) == body


async def test_info_level_logs_no_debug_line(start_exporter: StartExporter) -> None:
    exporter = await start_exporter(log_level=LogLevel.INFO)
    await exporter.smoke()
    await exporter.client.close()
    assert {line["level"] for line in exporter.file_lines()} == {"INFO"}


async def test_failed_run_logs_a_warning_with_run_id_and_cause(
    start_exporter: StartExporter, log_path: Path
) -> None:
    exporter = await start_exporter()
    log_path.unlink()
    log_path.mkdir()
    _, body = await exporter.smoke()
    await exporter.client.close()
    warnings = [line for line in exporter.stdout_lines() if line["level"] == "WARNING"]
    assert warnings == [
        {
            "timestamp": warnings[0]["timestamp"],
            "level": "WARNING",
            "logger": "exporter.run.runner",
            "message": body["message"],
            "run_id": body["run_id"],
            "trigger": "http",
        }
    ]


async def test_full_queue_drops_and_counts_records_and_fails_the_canary_at_once(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    series = SinkSeries(registry)
    with stuck_pipe() as pipe:
        sinks = [
            StreamSink("stdout", pipe.write_fd, series),
            FileSink("file", tmp_path / "x.log", series),
        ]
        pipeline = LogPipeline(sinks, LogLevel.INFO, queue_size=3)
        pipeline.start()
        try:
            log = logging.getLogger("exporter.test")
            log.info("record %d", 0)
            # The stdout thread takes it, and blocks in write().
            await until(lambda: pipeline.waiting()["stdout"] == 0, "stdout took record 0")
            for n in range(1, 10):
                log.info("record %d", n)
                # The file sink keeps up: it takes each record before the next.
                await until(lambda: pipeline.waiting()["file"] == 0, "file took the record")
            dropped = registry.get_sample_value(
                "smoke_test_log_records_dropped_total", {"sink": "stdout", "reason": "queue_full"}
            )
            # One record is stuck in write(), three wait in the queue, the rest are dropped.
            assert dropped == 6
            assert (
                registry.get_sample_value(
                    "smoke_test_log_records_dropped_total", {"sink": "file", "reason": "queue_full"}
                )
                == 0
            )
            outcomes = await pipeline.deliver_canary(CANARY, 5.0, run_id="r1", trigger="http")
            assert outcomes["file"].ok
            assert not outcomes["stdout"].ok
            assert outcomes["stdout"].reason is Reason.TIMEOUT
            assert outcomes["stdout"].error == "queue full (3 records waiting): sink is stuck"
            assert (
                registry.get_sample_value(
                    "smoke_test_log_records_dropped_total",
                    {"sink": "stdout", "reason": "queue_full"},
                )
                == 7
            )
            assert (
                registry.get_sample_value(
                    "smoke_test_log_sink_errors_total", {"sink": "stdout", "reason": "timeout"}
                )
                == 1
            )
        finally:
            pipe.drain()
            assert pipeline.stop(5.0) == []
    received = [json.loads(line)["message"] for line in pipe.received.decode().splitlines()]
    assert received == [f"record {n}" for n in range(4)]
    assert [line["message"] for line in json_lines(tmp_path / "x.log")] == [
        *(f"record {n}" for n in range(10)),
        CANARY,
    ]


async def test_a_swap_removes_a_dropped_sinks_series_at_once_while_it_still_drains(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    series = SinkSeries(registry)

    def errors(sink: str) -> float | None:
        return registry.get_sample_value(
            "smoke_test_log_sink_errors_total", {"sink": sink, "reason": "write"}
        )

    with stuck_pipe() as pipe:
        kept = FileSink("kept", tmp_path / "kept.log", series)
        pipeline = LogPipeline([StreamSink("gone", pipe.write_fd, series), kept], LogLevel.INFO)
        pipeline.start()
        try:
            logging.getLogger("exporter.test").info("before the swap")
            await until(lambda: pipeline.waiting()["gone"] == 0, "gone took the line")
            retired = pipeline.swap([kept])
            # Its thread is still stuck in write(), yet its series are gone already.
            assert errors("gone") is None
            assert (
                registry.get_sample_value("smoke_test_log_delivery_seconds_count", {"sink": "gone"})
                is None
            )
            assert errors("kept") == 0
            logging.getLogger("exporter.test").info("after the swap")
            pipe.drain()
            assert await asyncio.to_thread(pipeline.retire, retired, 5.0) == []
            assert errors("gone") is None  # its draining did not bring them back
        finally:
            assert pipeline.stop(5.0) == []
    assert [json.loads(line)["message"] for line in pipe.received.decode().splitlines()] == [
        "before the swap"
    ]
    assert [line["message"] for line in json_lines(tmp_path / "kept.log")] == [
        "before the swap",
        "after the swap",
    ]


async def test_stop_gives_up_on_a_stuck_sink_within_the_bound(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    series = SinkSeries(registry)
    with stuck_pipe() as pipe:
        pipeline = LogPipeline([StreamSink("stdout", pipe.write_fd, series)], LogLevel.INFO)
        pipeline.start()
        logging.getLogger("exporter.test").info("never written")
        assert await asyncio.to_thread(pipeline.stop, 0.3) == ["stdout"]


def test_create_app_starts_nothing() -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    create_app(Settings(), CollectorRegistry())
    assert root.handlers == handlers
