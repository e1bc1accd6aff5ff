"""A record followed through a host's loggers and offered to each handler as logging does."""

from __future__ import annotations

import io
import logging
import logging.handlers
import queue
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from exporter.checks.logging import CANARY_MESSAGE
from exporter.inside.follow import (
    Dropped,
    Handled,
    HostReason,
    State,
    dropped_by_logger,
    handlers_of,
    names,
    offer,
)
from tests.support.host_logging import (
    LOGGER,
    TOP,
    Closed,
    Host,
    Raising,
    host_logging,
    to_devnull,
)

LOGGED = f"Message: {CANARY_MESSAGE!r}\nArguments: ()\n"  # how handleError's report ends


@pytest.fixture
def host() -> Iterator[Host]:
    with host_logging() as made:
        yield made


def _record() -> logging.LogRecord:
    fields = {"name": LOGGER, "levelno": logging.INFO, "levelname": "INFO", "msg": CANARY_MESSAGE}
    return logging.makeLogRecord({**fields, "run_id": "run-1", "seq": 1})


def _untimed(handled: Handled) -> Handled:
    assert handled.seconds is not None
    return replace(handled, seconds=None)


def test_a_logger_that_makes_the_record_drops_nothing(host: Host) -> None:
    assert dropped_by_logger(host.logger(), logging.INFO) is None


def test_logging_disable_drops_the_record(host: Host) -> None:
    logging.disable(logging.INFO)
    assert dropped_by_logger(host.logger(), logging.INFO) == Dropped(
        LOGGER, "logging.disable(INFO) drops every record at it"
    )


def test_the_level_is_named_where_it_was_set(host: Host) -> None:
    logger = host.logger(level=logging.WARNING)
    assert dropped_by_logger(logger, logging.INFO) == Dropped(
        LOGGER, f"logger {LOGGER} drops INFO: its level is WARNING"
    )
    logger.setLevel(logging.NOTSET)
    host.logger(name=TOP, level=logging.ERROR)
    assert dropped_by_logger(logger, logging.INFO) == Dropped(
        TOP, f"logger {LOGGER} drops INFO: its level is ERROR, set on {TOP}"
    )
    host.logger(name=TOP, level=logging.NOTSET)
    logging.getLogger().setLevel(logging.WARNING)
    assert dropped_by_logger(logger, logging.INFO) == Dropped(
        "root", f"logger {LOGGER} drops INFO: its level is WARNING, set on root"
    )


def test_a_disabled_logger_drops_the_record(host: Host) -> None:
    logger = host.logger()
    logger.disabled = True
    assert dropped_by_logger(logger, logging.INFO) == Dropped(
        LOGGER, f"logger {LOGGER} is disabled (logging.config's disable_existing_loggers)"
    )


def test_handlers_are_the_loggers_then_its_parents_while_propagate(host: Host) -> None:
    own, first, second = logging.NullHandler(), logging.NullHandler(), logging.NullHandler()
    logger = host.logger(own, propagate=True)
    host.logger(first, second, name=TOP)  # TOP does not propagate: root's are not offered
    assert handlers_of(logger) == [own, first, second]
    logger.propagate = False
    assert handlers_of(logger) == [own]


def test_a_second_handler_of_the_same_name_is_numbered(tmp_path: Path, host: Host) -> None:
    handlers: list[logging.Handler] = [
        host.handler(logging.FileHandler(tmp_path / "app.log", delay=True)),
        *(logging.StreamHandler(io.StringIO()) for _ in range(3)),
    ]
    assert names(handlers) == [
        f"FileHandler {tmp_path}/app.log",
        "StreamHandler",
        "StreamHandler #2",
        "StreamHandler #3",
    ]
    assert names(handlers[1:3], "QueueHandler > ") == [
        "QueueHandler > StreamHandler",
        "QueueHandler > StreamHandler #2",
    ]


def test_a_stream_is_confirmed_by_its_write() -> None:
    stream = io.StringIO()
    handled = offer(logging.StreamHandler(stream), "S", _record())
    assert _untimed(handled) == Handled("S", State.OK)
    assert stream.getvalue() == f"{CANARY_MESSAGE}\n"


def test_a_regular_file_is_confirmed_by_its_line_read_back(tmp_path: Path, host: Host) -> None:
    handler = host.handler(logging.FileHandler(tmp_path / "app.log"))
    assert _untimed(offer(handler, "F", _record())) == Handled("F", State.OK)
    assert (tmp_path / "app.log").read_text() == f"{CANARY_MESSAGE}\n"


def test_a_null_handler_discards_it() -> None:
    assert offer(logging.NullHandler(), "N", _record()) == Handled("N", State.DISCARDED)


def test_a_handler_level_drops_it_unless_the_listener_ignores_levels() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    assert offer(handler, "S", _record()) == Handled(
        "S", State.FILTERED, HostReason.FILTERED, "S drops INFO: its level is WARNING"
    )
    assert stream.getvalue() == ""
    assert _untimed(offer(handler, "S", _record(), by_level=False)) == Handled("S", State.OK)
    assert stream.getvalue() == f"{CANARY_MESSAGE}\n"


def test_a_handler_filter_drops_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(lambda record: False)
    assert _untimed(offer(handler, "S", _record())) == Handled(
        "S", State.FILTERED, HostReason.FILTERED, "S drops the record: a filter refused it"
    )
    assert stream.getvalue() == ""


def test_handle_error_fails_it_and_still_reports_as_the_host_had_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handled = offer(logging.StreamHandler(Closed()), "S", _record())
    assert _untimed(handled) == Handled(
        "S", State.FAIL, HostReason.HANDLER_ERROR, "S failed to write it: ValueError"
    )
    err = capsys.readouterr().err
    assert err.startswith("--- Logging error ---\n")
    assert err.endswith(LOGGED)


def test_a_handler_raising_past_handle_error_fails_it_without_its_text() -> None:
    handled = offer(Raising(), "R", _record())
    assert _untimed(handled) == Handled(
        "R", State.FAIL, HostReason.HANDLER_ERROR, "R failed to write it: RuntimeError"
    )


def test_a_full_device_fails_it_with_the_system_error(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = host.handler(logging.FileHandler("/dev/full"))
    try:
        handled = offer(handler, "F", _record())
    finally:
        to_devnull(handler)  # what it could not write goes nowhere, not to the closing flush
    assert _untimed(handled) == Handled(
        "F",
        State.FAIL,
        HostReason.HANDLER_ERROR,
        "F failed to write it: OSError: No space left on device",
    )
    assert capsys.readouterr().err.endswith(LOGGED)


def test_a_file_written_with_something_else_fails_verify(tmp_path: Path, host: Host) -> None:
    class Rewriting(logging.FileHandler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)
            assert self.stream is not None
            self.stream.write("a line that is not the one formatted\n")
            self.flush()

    handler = host.handler(Rewriting(tmp_path / "app.log"))
    assert _untimed(offer(handler, "F", _record())) == Handled(
        "F",
        State.FAIL,
        HostReason.VERIFY,
        f"F: the line read back from {handler.baseFilename} is not the canary",
    )


def test_a_closed_write_mode_file_handler_writes_nothing_and_fails_verify(
    tmp_path: Path, host: Host
) -> None:
    # logging.config closes every handler it finds; a FileHandler in mode "w" then drops every
    # record without a word (https://bugs.python.org/issue42378).
    handler = host.handler(logging.FileHandler(tmp_path / "app.log", mode="w"))
    handler.close()
    assert _untimed(offer(handler, "F", _record())) == Handled(
        "F", State.FAIL, HostReason.VERIFY, f"F: nothing was written to {tmp_path}/app.log"
    )


def test_the_handlers_own_format_and_handle_error_are_put_back() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.format = lambda record: f"own {record.getMessage()}"  # type: ignore[method-assign]
    own = vars(handler)["format"]
    assert _untimed(offer(handler, "S", _record())) == Handled("S", State.OK)
    assert stream.getvalue() == f"own {CANARY_MESSAGE}\n"
    assert vars(handler)["format"] is own
    assert "handleError" not in vars(handler)
    offer(logging.StreamHandler(io.StringIO()), "T", _record())
    assert [name for name in ("format", "handleError", "enqueue") if name in vars(handler)] == [
        "format"
    ]


def test_a_queue_handler_tells_of_its_queued_record_before_putting_it() -> None:
    on: queue.Queue[logging.LogRecord] = queue.Queue()
    handler = logging.handlers.QueueHandler(on)
    told: list[tuple[logging.Handler, str, str, int]] = []

    def enqueued(by: logging.Handler, name: str, record: logging.LogRecord) -> None:
        told.append((by, name, record.getMessage(), on.qsize()))

    assert _untimed(offer(handler, "Q", _record(), enqueued=enqueued)) == Handled("Q", State.OK)
    assert told == [(handler, "Q", CANARY_MESSAGE, 0)]
    queued = on.get_nowait()
    fields = ("msg", "run_id", "seq")
    assert {name: vars(queued)[name] for name in fields} == {
        "msg": CANARY_MESSAGE,
        "run_id": "run-1",
        "seq": 1,
    }
    assert "enqueue" not in vars(handler)
