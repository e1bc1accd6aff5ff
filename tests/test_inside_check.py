"""The logging check inside a service: the canary through the service's own logger and
handlers, each failure with its exact reason, handler and error, and recovery without a
restart. Queues and their listeners: tests/test_inside_queues.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import logging.config
import logging.handlers
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pythonjsonlogger.json import JsonFormatter

from exporter.checks.base import CheckDeps
from exporter.checks.canaries import CanaryLedger
from exporter.checks.logging import CANARY_MESSAGE, LoggingOptions
from exporter.checks.stores.registry import Stores
from exporter.inside.check import HostLoggingCheck, check_type
from exporter.inside.follow import HostReason, State
from exporter.session import SharedSession
from exporter.verdict import RunInfo
from tests.support.host_logging import (
    INSTANCE,
    LOGGER,
    TOP,
    Blocking,
    Closed,
    Host,
    Raising,
    failed,
    host_logging,
    passed,
    sending,
    to_devnull,
    verdict,
)
from tests.wait import DEADLINE, until

LINE = f"{CANARY_MESSAGE}\n"
LAST_RESORT = ", so Python's last resort gets it (stderr, WARNING and above only)"


@pytest.fixture
def host() -> Iterator[Host]:
    with host_logging() as made:
        yield made


class Counting(logging.StreamHandler[io.StringIO]):
    """A host's handler with its own handleError, which must still be called."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__(stream)
        self.errors: list[str] = []

    def handleError(self, record: logging.LogRecord) -> None:
        self.errors.append(record.getMessage())
        super().handleError(record)


class Rewriting(logging.FileHandler):
    """Formats the record, then writes another line."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        assert self.stream is not None
        self.stream.write("not the line formatted\n")
        self.flush()


async def test_a_file_handler_passes_with_its_line_read_back(tmp_path: Path, host: Host) -> None:
    path = tmp_path / "app.log"
    host.logger(logging.FileHandler(path))
    assert verdict(await host.run()) == passed({f"FileHandler {path}": "ok"})
    assert path.read_text() == LINE


async def test_a_stream_passes_by_its_write(host: Host) -> None:
    stream = io.StringIO()
    host.logger(logging.StreamHandler(stream))
    assert verdict(await host.run()) == passed({"StreamHandler": "ok"})
    assert stream.getvalue() == LINE


async def test_a_file_handler_on_dev_null_passes_by_its_write(host: Host) -> None:
    host.logger(logging.FileHandler("/dev/null"))
    assert verdict(await host.run()) == passed({"FileHandler /dev/null": "ok"})


async def test_a_json_formatter_writes_the_canary_with_its_fields(
    tmp_path: Path, host: Host
) -> None:
    path = tmp_path / "app.json"
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    host.logger(handler)
    assert verdict(await host.run()) == passed({f"FileHandler {path}": "ok"})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {
            "levelname": "INFO",
            "name": LOGGER,
            "message": CANARY_MESSAGE,
            "run_id": "run-1",
            "trigger": "http",
            "seq": 1,
            "instance": INSTANCE,
            "signature": host.canaries.sign("run-1", 1),
        }
    ]


async def test_the_root_logger_at_warning_is_named_as_where_the_level_was_set(
    host: Host,
) -> None:
    host.logger(logging.StreamHandler(io.StringIO()), level=logging.NOTSET, propagate=True)
    host.logger(name=TOP, level=logging.NOTSET, propagate=True)
    logging.getLogger().setLevel(logging.WARNING)
    error = f"logger {LOGGER} drops INFO: its level is WARNING, set on root"
    assert verdict(await host.run()) == failed("filtered", error, {}, None, "root")
    assert host.canaries.last_seq == 0  # no canary was made
    logging.getLogger().setLevel(logging.INFO)
    with host.root_handlers():  # its StreamHandler writes it
        assert verdict(await host.run()) == passed({"StreamHandler": "ok"})


async def test_a_handler_level_filters_the_canary(tmp_path: Path, host: Host) -> None:
    path = tmp_path / "app.log"
    host.logger(host.handler(logging.FileHandler(path), logging.WARNING))
    name = f"FileHandler {path}"
    error = f"{name} drops INFO: its level is WARNING"
    assert verdict(await host.run()) == failed("filtered", error, {name: "filtered"}, name)
    assert path.read_text() == ""


async def test_a_handler_filter_filters_the_canary(host: Host) -> None:
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(lambda record: False)
    host.logger(handler)
    error = "StreamHandler drops the record: a filter refused it"
    handlers = {"StreamHandler": "filtered"}
    assert verdict(await host.run()) == failed("filtered", error, handlers, "StreamHandler")


async def test_a_logger_filter_filters_the_canary(host: Host) -> None:
    stream = io.StringIO()
    host.logger(logging.StreamHandler(stream)).addFilter(lambda record: False)
    error = f"logger {LOGGER} drops the record: a filter refused it"
    assert verdict(await host.run()) == failed("filtered", error, {}, None)
    assert stream.getvalue() == ""


async def test_a_logger_disabled_by_dict_config_filters_the_canary(host: Host) -> None:
    logger = host.logger(logging.StreamHandler(io.StringIO()))
    logging.config.dictConfig({"version": 1})  # disable_existing_loggers: true
    error = f"logger {LOGGER} is disabled (logging.config's disable_existing_loggers)"
    assert verdict(await host.run()) == failed("filtered", error, {}, None)
    logger.disabled = False
    assert verdict(await host.run()) == passed({"StreamHandler": "ok"})


async def test_logging_disable_filters_the_canary(host: Host) -> None:
    host.logger(logging.StreamHandler(io.StringIO()))
    logging.disable(logging.INFO)
    error = "logging.disable(INFO) drops every record at it"
    assert verdict(await host.run()) == failed("filtered", error, {}, None)


async def test_one_handler_filtering_while_another_writes_passes(
    tmp_path: Path, host: Host
) -> None:
    path = tmp_path / "app.log"
    stream = io.StringIO()
    host.logger(
        host.handler(logging.FileHandler(path), logging.WARNING), logging.StreamHandler(stream)
    )
    handlers = {f"FileHandler {path}": "filtered", "StreamHandler": "ok"}
    assert verdict(await host.run()) == passed(handlers)
    assert (path.read_text(), stream.getvalue()) == ("", LINE)


async def test_a_logger_with_no_handler_and_no_propagation_has_no_handler(host: Host) -> None:
    host.logger()
    error = f"no handler took the record: logger {LOGGER} and its parents have none{LAST_RESORT}"
    assert verdict(await host.run()) == failed("no_handler", error, {}, None)


async def test_a_bare_root_has_no_handler_until_one_is_added(host: Host) -> None:
    host.logger(propagate=True)
    host.logger(name=TOP, level=logging.NOTSET, propagate=True)
    error = f"no handler took the record: logger {LOGGER} and its parents have none{LAST_RESORT}"
    with host.root_handlers():
        assert verdict(await host.run()) == failed("no_handler", error, {}, None)
    stream = io.StringIO()
    with host.root_handlers(logging.StreamHandler(stream)):
        assert verdict(await host.run()) == passed({"StreamHandler": "ok"})
    assert stream.getvalue() == LINE


async def test_only_a_null_handler_has_no_handler(host: Host) -> None:
    host.logger(logging.NullHandler())
    error = (
        f"no handler took the record: logger {LOGGER} and its parents have only a NullHandler"
        f"{LAST_RESORT}"
    )
    assert verdict(await host.run()) == failed(
        "no_handler", error, {"NullHandler": "discarded"}, None
    )


async def test_a_write_error_fails_the_handler_and_its_own_handle_error_still_runs(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.raiseExceptions = False  # logging's own report of it to stderr is off
    handler = Counting(Closed())
    host.logger(handler)
    error = "Counting failed to write it: ValueError"
    assert verdict(await host.run()) == failed(
        "handler_error", error, {"Counting": "fail"}, "Counting"
    )
    assert handler.errors == [CANARY_MESSAGE]
    assert capsys.readouterr().err == ""


async def test_a_handler_raising_past_handle_error_fails_without_its_text(host: Host) -> None:
    host.logger(Raising())
    error = "Raising failed to write it: RuntimeError"
    assert verdict(await host.run()) == failed(
        "handler_error", error, {"Raising": "fail"}, "Raising"
    )


async def test_a_full_device_fails_the_handler_with_the_system_error(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = logging.FileHandler("/dev/full")
    host.logger(handler)
    try:
        result = verdict(await host.run())
    finally:
        to_devnull(handler)
    name = "FileHandler /dev/full"
    error = f"{name} failed to write it: OSError: No space left on device"
    assert result == failed("handler_error", error, {name: "fail"}, name)
    assert capsys.readouterr().err.startswith("--- Logging error ---\n")


async def test_a_file_written_with_another_line_fails_verify(tmp_path: Path, host: Host) -> None:
    path = tmp_path / "app.log"
    host.logger(Rewriting(path))
    name = f"Rewriting {path}"
    error = f"{name}: the line read back from {path} is not the canary"
    assert verdict(await host.run()) == failed("verify", error, {name: "fail"}, name)


async def test_a_file_replaced_under_its_handler_fails_verify(tmp_path: Path, host: Host) -> None:
    path = tmp_path / "app.log"
    host.logger(logging.FileHandler(path))
    path.rename(tmp_path / "app.log.1")  # rotated by another program; the handler not told
    path.write_text("")
    name = f"FileHandler {path}"
    error = f"{name}: nothing was written to {path}"
    assert verdict(await host.run()) == failed("verify", error, {name: "fail"}, name)
    assert (tmp_path / "app.log.1").read_text() == LINE
    path.unlink()
    error = f"{name}: cannot read back {path}: No such file or directory"
    assert verdict(await host.run()) == failed("verify", error, {name: "fail"}, name)


async def test_a_file_rotated_by_the_canary_passes(tmp_path: Path, host: Host) -> None:
    path = tmp_path / "app.log"
    path.write_text("an earlier line\n")
    host.logger(logging.handlers.RotatingFileHandler(path, maxBytes=20, backupCount=1))
    assert verdict(await host.run()) == passed({f"RotatingFileHandler {path}": "ok"})
    assert (path.read_text(), (tmp_path / "app.log.1").read_text()) == (LINE, "an earlier line\n")


async def test_a_file_handler_that_opens_its_file_on_the_first_line_passes(
    tmp_path: Path, host: Host
) -> None:
    path = tmp_path / "app.log"
    host.logger(logging.FileHandler(path, delay=True))
    assert verdict(await host.run()) == passed({f"FileHandler {path}": "ok"})
    assert path.read_text() == LINE


async def test_a_blocked_handler_times_out_then_fails_at_once_until_it_returns(
    host: Host,
) -> None:
    loop = asyncio.get_running_loop()
    stream = io.StringIO()
    blocking = Blocking()
    host.logger(logging.StreamHandler(stream), blocking)
    handlers = {"StreamHandler": "ok", "Blocking": "fail"}
    error = "Blocking did not return within 0.3s"
    assert verdict(await host.run(0.3)) == failed("timeout", error, handlers, "Blocking")
    started = loop.time()
    second = verdict(await host.run(0.3))
    elapsed = loop.time() - started
    error = "Blocking has not returned from writing an earlier canary"
    assert second == failed("timeout", error, {"Blocking": "fail"}, "Blocking")
    assert elapsed < 0.3
    assert host.canaries.last_seq == 1  # no second canary was sent
    blocking.gate.set()
    await until(lambda: not sending(), "the blocked send returned")
    assert verdict(await host.run()) == passed({"StreamHandler": "ok", "Blocking": "ok"})
    assert stream.getvalue() == LINE * 2


async def test_a_blocked_logger_filter_times_out_naming_the_logger(host: Host) -> None:
    gate = threading.Event()

    def waiting(record: logging.LogRecord) -> bool:
        return gate.wait(DEADLINE)

    host.logger(logging.StreamHandler(io.StringIO())).addFilter(waiting)
    try:
        error = f"logger {LOGGER} did not return within 0.3s"
        assert verdict(await host.run(0.3)) == failed("timeout", error, {}, None)
    finally:
        gate.set()
    await until(lambda: not sending(), "the blocked send returned")
    assert verdict(await host.run()) == passed({"StreamHandler": "ok"})


async def test_the_send_does_not_wait_for_the_service_s_own_executor(host: Host) -> None:
    # The service's default executor is busy with its own blocking work: the canary does not
    # queue behind it.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(1))
    gate = threading.Event()
    busy = loop.run_in_executor(None, gate.wait, DEADLINE)
    host.logger(logging.StreamHandler(io.StringIO()))
    try:
        assert verdict(await host.run(0.3)) == passed({"StreamHandler": "ok"})
    finally:
        gate.set()
        await busy


async def test_handlers_of_one_name_are_numbered(host: Host) -> None:
    host.logger(logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO()))
    assert verdict(await host.run()) == passed({"StreamHandler": "ok", "StreamHandler #2": "ok"})


async def test_handlers_named_by_dict_config_show_their_name_class_and_target(
    tmp_path: Path, host: Host
) -> None:
    path = tmp_path / "app.log"
    handler = {"class": "logging.FileHandler", "filename": str(path)}
    logger = {"handlers": ["app_file"], "level": "INFO", "propagate": False}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"app_file": handler},
            "loggers": {LOGGER: logger},
        }
    )
    host.handler(logging.getLogger(LOGGER).handlers[0])  # closed when the test ends
    assert verdict(await host.run()) == passed({f"app_file (FileHandler {path})": "ok"})
    assert path.read_text() == LINE


async def test_the_check_type_builds_the_check_on_the_named_logger(host: Host) -> None:
    registry = CollectorRegistry()
    canaries = CanaryLedger(INSTANCE)
    deps = CheckDeps(None, SharedSession(), registry, canaries, Stores(registry, canaries))
    kind = check_type(LOGGER)
    assert (kind.options, kind.reasons, kind.reason_values) == (
        LoggingOptions,
        HostReason,
        ("filtered", "no_handler", "handler_error", "verify", "timeout", "exception"),
    )
    assert kind.detail_schema["handlers"]["additionalProperties"] == {
        "enum": [state.value for state in State]
    }
    check = kind.build("logging", LoggingOptions(), deps)
    assert isinstance(check, HostLoggingCheck)
    host.logger(logging.StreamHandler(io.StringIO()))
    loop = asyncio.get_running_loop()
    result = await check(RunInfo("run-9", "schedule", loop.time() + 5.0, 5.0))
    assert result.detail == {"logger": LOGGER, "handlers": {"StreamHandler": "ok"}}
    assert canaries.last_seq == 1


async def test_a_memory_handler_holding_the_canary_in_its_buffer_is_not_confirmed(
    tmp_path: Path, host: Host
) -> None:
    path = tmp_path / "app.log"
    target = host.handler(logging.FileHandler(path))
    buffering = logging.handlers.MemoryHandler(1000, logging.ERROR, target, flushOnClose=False)
    host.logger(buffering)
    error = "MemoryHandler holds it in its buffer, written only when the buffer is flushed"
    handlers = {"MemoryHandler": "fail"}
    assert verdict(await host.run()) == failed("timeout", error, handlers, "MemoryHandler")
    assert path.read_text() == ""
    buffering.flushLevel = logging.INFO  # now the canary is flushed to the file as it comes
    assert verdict(await host.run()) == passed({"MemoryHandler": "ok"})
    assert path.read_text().splitlines() == [CANARY_MESSAGE] * 2
