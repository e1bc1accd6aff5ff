"""The file store check on real files: only new bytes, rotation, truncation, re-checks, forged
lines, and a path that cannot be read or holds no regular file (a fifo, /dev/zero)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from exporter.checks.canaries import Canary
from exporter.checks.stores.book import CanaryBook
from exporter.checks.stores.check import StoreCheck, StoreReason
from exporter.checks.stores.file import FileStore
from exporter.checks.stores.follow import CHUNK_BYTES, Follower
from exporter.verdict import RunInfo, Status
from tests.conftest import StartExporter
from tests.support.books import FORGERIES, Books, body, forged, zero


def run(timeout: float = 10.0) -> RunInfo:
    """A run's deadline: generous, as reading the file is a hop to a thread, which can take
    seconds on a contended machine; no test here waits for it to pass."""
    loop = asyncio.get_running_loop()
    return RunInfo("r" * 32, "http", loop.time() + timeout, timeout)


def line(
    canary: Canary, prefix: str = "Dec  3 12:00:00 host smoke-test-exporter[1]: ", **changed: Any
) -> str:
    """The canary's line as rsyslog writes it, with ``changed`` fields (None: left out)."""
    return prefix + json.dumps(body(canary, **changed)) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


class FileChecked:
    """A file store check over ``path``, with its book and counters at hand."""

    def __init__(self, path: Path, **options: float) -> None:
        self.books = Books(**options)
        self.follower = Follower(path)
        self.check = StoreCheck(self.books.book, FileStore(self.follower, OrderedDict()))

    @property
    def book(self) -> CanaryBook:
        return self.books.book


async def test_only_lines_appended_after_the_check_began_are_read(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    c = FileChecked(path)
    (old,) = c.books.write()
    path.write_text(line(old) * 3)  # there before the check: never read
    c.follower = Follower(path)
    c.check = StoreCheck(c.book, FileStore(c.follower, OrderedDict()))
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    assert result.error == "1 canaries pending, none found or missing yet"
    (new,) = c.books.write()
    append(path, "unrelated line\n" + line(new))
    result = await c.check(run())
    assert result.status is Status.OK
    assert c.books.counts() == zero(written=2, found=1)
    assert result.detail["newest"]["seq"] == new.seq
    assert result.detail["canaries"] == {"pending": 1, **zero(written=2, found=1)}


async def test_a_path_with_no_file_fails_at_once_naming_it_never_missing(tmp_path: Path) -> None:
    (tmp_path / "central.log").write_text("")
    path = tmp_path / "centrl.log"  # a typo in the config
    c = FileChecked(path, max_delay=0.05)
    (canary,) = c.books.write()
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.UNREACHABLE)
    assert result.error == f"cannot read {path}: No such file or directory"
    assert result.component is not None
    assert (result.component.kind, result.component.id) == ("path", str(path))
    await asyncio.sleep(0.1)  # past max_delay: still the path's fault, no canary missing
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.UNREACHABLE)
    assert result.error == f"cannot read {path}: No such file or directory"
    assert c.books.counts() == zero(written=1)
    assert c.books.pending() == 1
    path.write_text(line(canary))  # created after all: read from its start
    result = await c.check(run())
    assert result.status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


async def test_a_fifo_socket_or_directory_at_the_path_fails_at_once_naming_it(
    tmp_path: Path,
) -> None:
    directory, fifo, sock = tmp_path / "dir.log", tmp_path / "fifo.log", tmp_path / "sock.log"
    directory.mkdir()
    os.mkfifo(fifo)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(sock))
        for path, why in [
            (directory, "Is a directory"),
            (fifo, "not a regular file but a fifo"),
            (sock, "not a regular file but a socket"),
        ]:
            c = await checked_without_blocking(path)
            c.books.write()
            result = await c.check(run())
            assert (result.status, result.reason, result.error) == (
                Status.FAIL,
                StoreReason.UNREACHABLE,
                f"cannot read {path}: {why}",
            )
            assert c.books.counts() == zero(written=1)


async def checked_without_blocking(path: Path) -> FileChecked:
    """A FileChecked built in a thread: opening a fifo to read waits for a writer, so a
    follower that opened one would hang; a writer that opens it then frees the thread."""
    built = asyncio.ensure_future(asyncio.to_thread(FileChecked, path))
    done, _ = await asyncio.wait([built], timeout=10.0)
    if not done:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        await built
        raise AssertionError(f"building the check blocked on {path}")
    return built.result()


@pytest.mark.parametrize("gone", ["moved", "deleted"])
async def test_a_followed_file_gone_from_its_path_is_read_on_and_not_an_error(
    tmp_path: Path, gone: str
) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    one, two = c.books.write(2)
    append(path, line(one))
    assert (await c.check(run())).status is Status.OK
    with path.open("a") as old:  # the server writes on into the file it has open
        if gone == "moved":
            os.rename(path, tmp_path / "central.log.1")  # logrotate, nocreate: not made again
        else:
            path.unlink()
        old.write(line(two))
    (three,) = c.books.write()
    result = await c.check(run())
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.detail["newest"]["seq"] == two.seq
    assert c.books.counts() == zero(written=3, found=2)
    assert c.books.pending() == 1
    path.write_text(line(three))  # the server reopened its file: a new one at the path
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=3, found=3)


async def test_a_typo_in_the_path_fails_the_smoke_test_with_unreachable_not_missing(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    (tmp_path / "central.log").write_text("")
    config = tmp_path / "smoke-test.yml"
    config.write_text(
        "checks:\n  - {name: logging, type: logging}\n"
        "  - {name: central, type: file, path: centrl.log, max_delay: 1ms, timeout: 10s}\n"
    )
    exporter = await start_exporter(config_file=config)
    status, body = await exporter.smoke()
    path = tmp_path / "centrl.log"
    error = f"cannot read {path}: No such file or directory"
    assert status == 503
    central = body["checks"]["central"]
    assert (central["status"], central["reason"], central["error"]) == (
        "fail",
        "unreachable",
        error,
    )
    assert central["component"] == {"kind": "path", "id": str(path)}
    assert f"check central failed on path {path}: {error}" in body["message"]
    failures = "smoke_test_check_failures_total"
    assert exporter.sample(failures, check="central", reason="unreachable") == 2  # and start-up's
    assert exporter.sample(failures, check="central", reason="missing") == 0
    assert exporter.sample("smoke_test_canary_missing_total", store="central") == 0
    assert exporter.sample("smoke_test_canary_pending", store="central") == 2


async def test_a_line_split_across_reads_is_counted_once_whole(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    text = line(canary)
    append(path, text[:20])
    assert (await c.check(run())).status is Status.WARN
    append(path, text[20:])
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


async def test_lines_longer_than_a_chunk_are_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    append(path, "x" * (CHUNK_BYTES * 2) + "\n" + line(canary))
    assert (await c.check(run())).status is Status.OK


async def test_a_rotated_file_is_read_to_its_end_then_the_new_one_from_its_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    one, two = c.books.write(2)
    append(path, line(one))
    os.rename(path, tmp_path / "central.log.1")  # logrotate's create mode
    with (tmp_path / "central.log.1").open("a") as f:  # the server writes on until it reopens
        f.write(line(two))
    (three,) = c.books.write()
    path.write_text(line(three))
    result = await c.check(run())
    assert result.status is Status.OK
    assert c.books.counts() == zero(written=3, found=3)


async def test_a_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (one,) = c.books.write()
    append(path, "filler line\n" * 10 + line(one))
    assert (await c.check(run())).status is Status.OK
    os.truncate(path, 0)  # copytruncate
    (two,) = c.books.write()
    append(path, line(two))
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=2, found=2)
    # The truncation moved the first canary's line: its re-check cannot say, and is no loss.
    assert (await c.check(run())).status is Status.OK
    assert c.book.lost is None


async def test_a_canary_overwritten_where_it_was_found_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    text = line(canary)
    append(path, text)
    assert (await c.check(run())).status is Status.OK
    with path.open("r+") as f:  # the same file, its bytes replaced
        f.write("#" * (len(text) - 1))
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.LOST)
    assert result.error is not None
    assert result.error.startswith(f"canary seq 1 of run {canary.run_id}, found ")
    assert result.error.endswith("after it was written, is gone from the store")
    assert c.books.counts() == zero(written=1, found=1, lost=1)


async def test_a_duplicated_line_is_counted_as_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    append(path, line(canary) * 2)
    assert (await c.check(run())).status is Status.OK
    append(path, line(canary))  # a shipper resending after a reconnect
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=1, found=1, duplicate=2)


async def test_lines_of_another_instance_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path, max_delay=0.001)
    (canary,) = c.books.write()
    append(path, line(canary).replace('"host-a"', '"host-b"'))
    await asyncio.sleep(0.01)
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.MISSING)
    assert result.error == f"canary seq 1 of run {canary.run_id} not found within max_delay 0.001s"
    assert c.books.counts() == zero(written=1, missing=1)


async def test_a_line_nested_past_the_recursion_limit_is_no_canary_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    append(path, '{"a": ' + "[" * 100_000 + "\n")  # anyone who can write to the store
    append(path, line(canary))
    result = await c.check(run())
    assert result.status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


async def test_a_directory_in_the_files_place_is_unreachable_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    path.unlink()
    path.mkdir()
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.UNREACHABLE)
    assert result.error == f"cannot read {path}: Is a directory"
    assert result.component is not None
    assert (result.component.kind, result.component.id) == ("path", str(path))
    assert c.books.counts() == zero(written=1)  # still pending, not given up on
    path.rmdir()
    path.write_text(line(canary))
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


async def test_a_canary_appended_within_max_delay_is_found(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path, max_delay=0.3)
    (canary,) = c.books.write()
    assert (await c.check(run())).reason is StoreReason.PENDING
    await asyncio.sleep(0.1)
    append(path, line(canary))  # a shipper that batches for 100 ms
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


async def test_a_canary_appended_past_max_delay_is_missing_then_late(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path, max_delay=0.1)
    (canary,) = c.books.write()
    await asyncio.sleep(0.15)
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.MISSING)
    append(path, line(canary))
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.MISSING)  # still the newest
    assert c.books.counts() == zero(written=1, missing=1, late=1)
    (newer,) = c.books.write()
    append(path, line(newer))
    assert (await c.check(run())).status is Status.OK  # recovers with the next one found


@pytest.mark.parametrize("how", FORGERIES)
async def test_a_forged_canary_is_not_found_and_is_counted_forged_once(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path, max_delay=0.2)
    (canary,) = c.books.write()
    fake = line(canary, **forged(how, c.books.ledger, canary))
    append(path, fake * 2)
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    assert result.detail["canaries"] == {"pending": 1, **zero(written=1, forged=1)}
    append(path, fake)  # forged again: the same canary, not counted again
    await asyncio.sleep(0.2)  # past max_delay
    result = await c.check(run())
    assert (result.status, result.reason, result.error) == (
        Status.FAIL,
        StoreReason.MISSING,
        f"canary seq 1 of run {canary.run_id} not found within max_delay 0.2s",
    )
    assert c.books.counts() == zero(written=1, missing=1, forged=1)
    append(path, line(canary))  # the real one, late
    await c.check(run())
    assert c.books.counts() == zero(written=1, missing=1, late=1, forged=1)


async def test_forged_lines_of_canaries_never_written_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    flood = "".join(line(canary, seq=seq, signature=None) for seq in range(2, 10_002))
    append(path, flood)  # a guessed future, or a flood to fill the exporter's memory
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    assert c.books.counts() == zero(written=1)
    (later,) = c.books.write()  # seq 2: its forged line was read before it was written
    append(path, line(later))
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=2, found=1)


async def test_a_canary_with_forged_copies_beside_is_found_and_counted_forged_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    append(path, line(canary, signature=None) + line(canary) + line(canary, signature="f" * 32))
    assert (await c.check(run())).status is Status.OK
    assert c.books.counts() == zero(written=1, found=1, forged=1)


async def test_a_found_canary_overwritten_by_a_forged_line_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    path.write_text("")
    c = FileChecked(path)
    (canary,) = c.books.write()
    text = line(canary)
    append(path, text)
    assert (await c.check(run())).status is Status.OK
    fake = line(canary, signature="0" * 32)
    assert len(fake) == len(text)
    with path.open("r+") as f:  # the same bytes but the signature's, where it was found
        f.write(fake)
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.FAIL, StoreReason.LOST)
    assert c.books.counts() == zero(written=1, found=1, lost=1)


@pytest.mark.parametrize("back", ["a new file", "the followed file", "a file at last"])
async def test_a_path_turned_into_dev_zero_fails_at_once_and_recovers_with_a_regular_file(
    tmp_path: Path, back: str
) -> None:
    path, moved = tmp_path / "central.log", tmp_path / "central.log.1"
    if back == "a file at last":
        path.symlink_to("/dev/zero")  # from the check's start
    else:
        path.write_text("")
    c = FileChecked(path)
    one, two = c.books.write(2)
    if back != "a file at last":
        append(path, line(one))
        assert (await c.check(run())).status is Status.OK
        path.rename(moved)
        path.symlink_to("/dev/zero")
    for _ in range(3):  # every run: nothing read from the device, nothing held open on it
        result = await c.check(run())
        assert (result.status, result.reason, result.error) == (
            Status.FAIL,
            StoreReason.UNREACHABLE,
            f"cannot read {path}: not a regular file but a character device",
        )
    path.unlink()
    if back == "a new file":
        path.write_text(line(two))
    elif back == "the followed file":
        path.symlink_to(moved)
        append(moved, line(two))
    else:
        path.write_text(line(one) + line(two))
    result = await c.check(run())
    assert (result.status, result.reason, result.error) == (Status.OK, None, None)
    assert result.detail["newest"]["seq"] == two.seq
    assert c.books.counts() == zero(written=2, found=2)
