"""The canary followed through a QueueHandler to the QueueListener that reads its queue, and
through that listener's handlers; the listener left as it was found."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.handlers
import multiprocessing
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.checks.logging import CANARY_MESSAGE
from exporter.inside.follow import Handled, HostReason, State
from exporter.inside.queues import canary_key, expect, forget, listeners_of, running
from tests.support.host_logging import (
    LOGGER,
    TOP,
    Blocking,
    Host,
    failed,
    host_logging,
    passed,
    to_devnull,
    verdict,
)
from tests.wait import DEADLINE, until, wait_until

Queue = queue.Queue[Any]


@pytest.fixture
def host() -> Iterator[Host]:
    with host_logging() as made:
        yield made


def _record(seq: int) -> logging.LogRecord:
    fields = {"name": LOGGER, "levelno": logging.INFO, "levelname": "INFO", "msg": CANARY_MESSAGE}
    return logging.makeLogRecord({**fields, "run_id": "run-1", "seq": seq})


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_canary_is_told_by_its_run_and_number() -> None:
    assert canary_key(_record(7)) == ("run-1", 7)
    assert canary_key(logging.makeLogRecord({"msg": "another"})) == (None, None)


def test_the_listener_reading_the_queue_is_found_however_it_holds_it(host: Host) -> None:
    on: Queue = queue.Queue()
    handler = logging.handlers.QueueHandler(on)
    assert listeners_of(handler) == []
    listener = host.listener(on)
    assert listeners_of(handler) == [listener]
    vars(listener)  # the instance's __dict__ made: gc now finds the dict, not the listener
    assert listeners_of(handler) == [listener]
    made = logging.handlers.QueueListener(queue.Queue())
    handler.listener = made  # type: ignore[attr-defined]  # as logging.config sets it (3.12)
    assert listeners_of(handler) == [made]


def test_a_listener_runs_while_its_thread_is_alive(host: Host) -> None:
    on: Queue = queue.Queue()
    assert not running(logging.handlers.QueueListener(on))
    listener = host.listener(on)
    assert running(listener)
    listener.stop()
    assert not running(listener)


def test_a_tapped_listener_follows_the_canary_and_handles_the_rest_as_before(
    host: Host,
) -> None:
    on: Queue = queue.Queue()
    stream = io.StringIO()
    refusing = logging.StreamHandler(io.StringIO())
    refusing.setLevel(logging.WARNING)
    listener = host.listener(on, logging.StreamHandler(stream), refusing)
    delivered = expect(listener, ("run-1", 2), "QueueHandler")
    on.put(_record(1))  # not the canary awaited
    on.put(_record(2))
    handled = delivered.result(DEADLINE)
    assert [(entry.name, entry.state) for entry in handled] == [
        ("QueueHandler > StreamHandler", State.OK),
        ("QueueHandler > StreamHandler #2", State.OK),  # the listener ignores handler levels
    ]
    assert stream.getvalue() == f"{CANARY_MESSAGE}\n" * 2
    assert refusing.stream.getvalue() == f"{CANARY_MESSAGE}\n" * 2
    forget(listener, ("run-1", 2))
    assert "handle" not in vars(listener)


def test_a_listener_that_respects_levels_is_followed_so(host: Host) -> None:
    on: Queue = queue.Queue()
    refusing = logging.StreamHandler(io.StringIO())
    refusing.setLevel(logging.WARNING)
    listener = host.listener(on, refusing, respect_handler_level=True)
    delivered = expect(listener, ("run-1", 1), "Q")
    on.put(_record(1))
    error = "Q > StreamHandler drops INFO: its level is WARNING"
    assert delivered.result(DEADLINE) == [
        Handled("Q > StreamHandler", State.FILTERED, HostReason.FILTERED, error)
    ]
    forget(listener, ("run-1", 1))


def test_the_tap_stays_while_a_canary_is_awaited_and_gives_back_the_listeners_own(
    host: Host,
) -> None:
    on: Queue = queue.Queue()
    stream = io.StringIO()
    listener = host.listener(on, logging.StreamHandler(stream))
    seen: list[tuple[object, object]] = []

    def own(record: logging.LogRecord) -> None:
        seen.append(canary_key(record))

    listener.handle = own  # type: ignore[method-assign]
    expect(listener, ("run-1", 1), "Q")
    expect(listener, ("run-1", 2), "Q")
    forget(listener, ("run-1", 1))
    on.put(_record(1))  # no longer awaited: the listener's own handle has it
    on.put(_record(2))
    wait_until(lambda: stream.getvalue() == f"{CANARY_MESSAGE}\n", "the canary followed")
    forget(listener, ("run-1", 2))
    assert vars(listener)["handle"] is own
    assert seen == [("run-1", 1)]


async def test_a_running_listener_delivers_to_its_handlers_run_after_run(
    tmp_path: Path, host: Host
) -> None:
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    listener = host.listener(on, logging.FileHandler(path))
    host.logger(logging.handlers.QueueHandler(on))
    for run in (1, 2):
        assert verdict(await host.run()) == passed(
            {"QueueHandler": "ok", f"QueueHandler > FileHandler {path}": "ok"}
        )
        assert _lines(path) == [CANARY_MESSAGE] * run
        assert "handle" not in vars(listener)


async def test_a_stopped_listener_times_out_and_recovers_once_started(
    tmp_path: Path, host: Host
) -> None:
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    listener = host.listener(on, logging.FileHandler(path))
    host.logger(logging.handlers.QueueHandler(on))
    listener.stop()
    error = (
        "QueueHandler: its QueueListener did not deliver the canary within 0.3s "
        "(its thread is not running)"
    )
    assert verdict(await host.run(0.3)) == {  # the whole verdict, as failed() makes it
        "status": "fail",
        "reason": "timeout",
        "error": error,
        "component": ("handler", "QueueHandler"),
        "detail": {
            "logger": LOGGER,
            "handlers": {"QueueHandler": "fail"},
            "failed_handler": "QueueHandler",
        },
        "parts": {"QueueHandler": ("fail", error)},
    }
    assert "handle" not in vars(listener)
    listener.start()
    assert verdict(await host.run()) == passed(
        {"QueueHandler": "ok", f"QueueHandler > FileHandler {path}": "ok"}
    )
    assert _lines(path) == [CANARY_MESSAGE] * 2  # the first canary too, once it was read
    assert "handle" not in vars(listener)


async def test_a_listener_respecting_handler_levels_fails_a_canary_none_wrote(
    tmp_path: Path, host: Host
) -> None:
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    listener = host.listener(
        on, host.handler(logging.FileHandler(path), logging.WARNING), respect_handler_level=True
    )
    host.logger(logging.handlers.QueueHandler(on))
    behind = f"QueueHandler > FileHandler {path}"
    error = f"{behind} drops INFO: its level is WARNING"
    handlers = {"QueueHandler": "ok", behind: "filtered"}
    assert verdict(await host.run()) == failed("filtered", error, handlers, behind)
    listener.respect_handler_level = False
    assert verdict(await host.run()) == passed({"QueueHandler": "ok", behind: "ok"})
    assert _lines(path) == [CANARY_MESSAGE]


async def test_a_listener_with_no_handler_that_writes_has_no_handler(host: Host) -> None:
    on: Queue = queue.Queue()
    host.listener(on, logging.NullHandler())
    host.logger(logging.handlers.QueueHandler(on))
    error = "no handler of the QueueListener behind QueueHandler writes the record"
    handlers = {"QueueHandler": "ok", "QueueHandler > NullHandler": "discarded"}
    assert verdict(await host.run()) == failed("no_handler", error, handlers, "QueueHandler")


async def test_a_full_queue_fails_the_handler(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    on: Queue = queue.Queue(1)
    listener = host.listener(on, logging.NullHandler())
    listener.stop()
    on.put_nowait("an earlier record")
    host.logger(logging.handlers.QueueHandler(on))
    error = "QueueHandler failed to write it: Full"
    handlers = {"QueueHandler": "fail"}
    assert verdict(await host.run()) == failed("handler_error", error, handlers, "QueueHandler")
    assert capsys.readouterr().err.startswith("--- Logging error ---\n")
    assert "handle" not in vars(listener)


async def test_an_in_process_queue_that_no_listener_reads_fails_as_undelivered(
    host: Host,
) -> None:
    on: Queue = queue.Queue()
    host.logger(logging.handlers.QueueHandler(on))
    error = "QueueHandler: no QueueListener in this process reads its queue, so nothing delivers it"
    handlers = {"QueueHandler": "fail"}
    assert verdict(await host.run()) == failed("timeout", error, handlers, "QueueHandler")
    queued = on.get_nowait()
    assert (queued.msg, queued.run_id, queued.seq, queued.instance) == (
        CANARY_MESSAGE,
        "run-1",
        1,
        "host-1",
    )


async def test_two_queue_handlers_on_one_queue_are_each_followed(
    tmp_path: Path, host: Host
) -> None:
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    listener = host.listener(on, logging.FileHandler(path))
    gate = threading.Event()

    def held(record: logging.LogRecord) -> None:
        """The listener's own handle: held at the gate, so both copies are queued first."""
        if record.msg == "gate":
            gate.wait(DEADLINE)
        else:
            logging.handlers.QueueListener.handle(listener, record)

    listener.handle = held  # type: ignore[method-assign]
    on.put(logging.makeLogRecord({"msg": "gate"}))
    host.logger(logging.handlers.QueueHandler(on), propagate=True)
    host.logger(logging.handlers.QueueHandler(on), name=TOP)
    run = asyncio.ensure_future(host.run())
    try:
        await until(lambda: on.qsize() == 2, "both copies of the canary queued")
    finally:
        gate.set()
    assert verdict(await run) == passed(
        {
            "QueueHandler": "ok",
            f"QueueHandler > FileHandler {path}": "ok",
            "QueueHandler #2": "ok",
            f"QueueHandler #2 > FileHandler {path}": "ok",
        }
    )
    assert _lines(path) == [CANARY_MESSAGE] * 2
    assert vars(listener)["handle"] is held


async def test_a_failing_handler_behind_the_queue_is_named(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    on: Queue = queue.Queue()
    full = logging.FileHandler("/dev/full")
    host.listener(on, full)
    host.logger(logging.handlers.QueueHandler(on))
    behind = "QueueHandler > FileHandler /dev/full"
    error = f"{behind} failed to write it: OSError: No space left on device"
    try:
        result = verdict(await host.run())
    finally:
        to_devnull(full)
    handlers = {"QueueHandler": "ok", behind: "fail"}
    assert result == failed("handler_error", error, handlers, behind)
    assert capsys.readouterr().err.startswith("--- Logging error ---\n")


async def test_a_run_cut_off_while_a_write_blocks_leaves_no_tap_once_it_returns(
    tmp_path: Path, host: Host
) -> None:
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    listener = host.listener(on, logging.FileHandler(path))
    blocking = Blocking()
    host.logger(logging.handlers.QueueHandler(on), blocking)
    run = asyncio.ensure_future(host.run())
    await until(blocking.entered.is_set, "the write after the queue blocks")
    run.cancel()  # the runner's cut-off
    with pytest.raises(asyncio.CancelledError):
        await run
    await until(lambda: _lines(path) == [CANARY_MESSAGE], "the listener wrote the canary")
    blocking.gate.set()
    await until(lambda: "handle" not in vars(listener), "the tap taken off the listener")


async def test_a_multiprocessing_queue_is_confirmed_by_its_enqueue(host: Host) -> None:
    # Another process may read it: nothing in this one can follow the canary further.
    on = multiprocessing.get_context("spawn").Queue()
    try:
        host.logger(logging.handlers.QueueHandler(on))
        assert verdict(await host.run()) == passed({"QueueHandler": "ok"})
        queued = on.get(timeout=DEADLINE)
        assert (queued.msg, queued.seq) == (CANARY_MESSAGE, 1)
    finally:
        on.close()
        on.join_thread()


async def test_a_stopped_listener_beside_a_running_one_on_the_queue_does_not_fail_it(
    tmp_path: Path, host: Host
) -> None:
    # The service kept its old listener, stopped, and started a new one on the same queue.
    on: Queue = queue.Queue()
    path = tmp_path / "app.log"
    old = host.listener(on, logging.FileHandler(path))
    old.stop()
    new = host.listener(on, logging.FileHandler(path))
    host.logger(logging.handlers.QueueHandler(on))
    for run in (1, 2):
        assert verdict(await host.run(0.5)) == passed(
            {"QueueHandler": "ok", f"QueueHandler > FileHandler {path}": "ok"}
        )
        assert _lines(path) == [CANARY_MESSAGE] * run
    assert ("handle" in vars(old), "handle" in vars(new)) == (False, False)
