"""A host's handler as the answer names it, and its file marked and read back."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import queue
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.inside.targets import FileMark, describe, mark, read_back


@pytest.fixture
def closing() -> Iterator[list[logging.Handler]]:
    """Handlers the test made, closed after it."""
    handlers: list[logging.Handler] = []
    yield handlers
    for handler in handlers:
        handler.close()


def test_each_handler_is_named_by_its_class_and_target(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    syslog = logging.handlers.SysLogHandler(("127.0.0.1", 514))
    closing.append(syslog)
    # sys.__stderr__: pytest's capture stands in for sys.stderr, and is named by its file.
    named = logging.FileHandler(tmp_path / "named.log", delay=True)
    named.name = "app_file"
    handlers = {
        logging.FileHandler(tmp_path / "app.log", delay=True): f"FileHandler {tmp_path}/app.log",
        logging.StreamHandler(sys.__stderr__): "StreamHandler <stderr>",
        logging.StreamHandler(io.StringIO()): "StreamHandler",
        syslog: "SysLogHandler 127.0.0.1:514",
        logging.handlers.HTTPHandler("127.0.0.1:8080", "/log"): "HTTPHandler http://127.0.0.1:8080",
        # A log service's path may carry its API key: the host alone is named.
        logging.handlers.HTTPHandler(
            "logs-01.loggly.com", "/inputs/0123-TOKEN/tag/python/", secure=True
        ): "HTTPHandler https://logs-01.loggly.com",
        logging.handlers.SocketHandler("127.0.0.1", 9020): "SocketHandler 127.0.0.1:9020",
        logging.handlers.DatagramHandler("127.0.0.1", 9021): "DatagramHandler 127.0.0.1:9021",
        logging.handlers.QueueHandler(queue.Queue()): "QueueHandler",
        logging.NullHandler(): "NullHandler",
        named: f"app_file (FileHandler {tmp_path}/named.log)",
    }
    closing.extend(handlers)
    assert [describe(handler) for handler in handlers] == list(handlers.values())


def test_a_regular_file_is_marked_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("an earlier line\n")
    handler = logging.FileHandler(path, delay=True)
    info = path.stat()
    assert mark(handler) == FileMark(str(path), info.st_dev, info.st_ino, 16)


def test_a_file_not_yet_opened_is_marked_empty(tmp_path: Path) -> None:
    handler = logging.FileHandler(tmp_path / "later.log", delay=True)
    assert mark(handler) == FileMark(f"{tmp_path}/later.log", -1, -1, 0)


def test_devices_pipes_streams_and_unreachable_paths_are_not_marked(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "plain").write_text("")
    handlers: list[logging.Handler] = [
        logging.FileHandler(os.devnull),
        logging.FileHandler(tmp_path / "pipe", delay=True),
        logging.FileHandler(tmp_path / "plain" / "app.log", delay=True),  # not a directory
        logging.StreamHandler(io.StringIO()),
    ]
    closing.extend(handlers)
    assert [mark(handler) for handler in handlers] == [None, None, None, None]


def _written(tmp_path: Path, before_text: str = "") -> tuple[logging.FileHandler, FileMark]:
    path = tmp_path / "app.log"
    path.write_text(before_text)
    handler = logging.FileHandler(path)
    before = mark(handler)
    assert before is not None
    return handler, before


def _append(handler: logging.FileHandler, text: str) -> None:
    assert handler.stream is not None
    handler.stream.write(text)
    handler.flush()


def test_the_line_written_after_the_mark_is_read_back(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    handler, before = _written(tmp_path, "canary\n")  # the same text before the mark is not it
    closing.append(handler)
    _append(handler, "another thread's line\ncanary\n")
    assert read_back(handler, before, "canary") is None


def test_a_line_that_is_not_the_canary_is_told(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    handler, before = _written(tmp_path, "canary\n")
    closing.append(handler)
    _append(handler, "canary, but cut short\n")
    problem = read_back(handler, before, "canary")
    assert problem == f"the line read back from {tmp_path}/app.log is not the canary"


def test_a_file_that_gained_nothing_is_told(tmp_path: Path, closing: list[logging.Handler]) -> None:
    handler, before = _written(tmp_path, "an earlier line\n")
    closing.append(handler)
    assert read_back(handler, before, "canary") == f"nothing was written to {tmp_path}/app.log"


def test_a_file_truncated_or_replaced_since_the_mark_is_read_from_its_start(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    handler, before = _written(tmp_path, "a long line written before the mark\n")
    closing.append(handler)
    (tmp_path / "app.log").write_text("canary\n")  # truncated: the same file, shorter
    assert read_back(handler, before, "canary") is None
    (tmp_path / "app.log").rename(tmp_path / "app.log.1")
    (tmp_path / "app.log").write_text("a long line of the new file\ncanary\n")  # replaced
    assert read_back(handler, before, "canary") is None


def test_a_file_that_cannot_be_read_back_is_told(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    handler, before = _written(tmp_path)
    closing.append(handler)
    (tmp_path / "app.log").unlink()
    assert read_back(handler, before, "canary") == (
        f"cannot read back {tmp_path}/app.log: No such file or directory"
    )


def test_the_line_is_looked_for_in_the_handlers_encoding_and_terminator(
    tmp_path: Path, closing: list[logging.Handler]
) -> None:
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-16-le")
    handler.terminator = "\r\n"
    closing.append(handler)
    before = mark(handler)
    assert before is not None
    _append(handler, "canary é\r\n")
    assert read_back(handler, before, "canary é") is None
    assert read_back(handler, before, "canary e") == (
        f"the line read back from {path} is not the canary"
    )
