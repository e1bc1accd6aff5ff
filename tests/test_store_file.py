"""The file store check on real files: only new bytes, rotation, truncation, re-checks, and a
path that cannot be read."""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from pathlib import Path

from exporter.checks import RunInfo, Status
from exporter.checks.canaries import Canary
from exporter.checks.stores.book import CanaryBook
from exporter.checks.stores.check import StoreCheck, StoreReason
from exporter.checks.stores.file import FileStore
from exporter.checks.stores.follow import CHUNK_BYTES, Follower
from tests.test_store_book import Books, zero


def run(timeout: float = 1.0) -> RunInfo:
    loop = asyncio.get_running_loop()
    return RunInfo("r" * 32, "http", loop.time() + timeout, timeout)


def line(canary: Canary, prefix: str = "Dec  3 12:00:00 host smoke-test-exporter[1]: ") -> str:
    body = {"message": "m", "run_id": canary.run_id, "seq": canary.seq, "instance": "host-a"}
    return prefix + json.dumps(body) + "\n"


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


async def test_a_file_not_there_yet_keeps_canaries_pending(tmp_path: Path) -> None:
    path = tmp_path / "central.log"
    c = FileChecked(path)
    (canary,) = c.books.write()
    result = await c.check(run())
    assert (result.status, result.reason) == (Status.WARN, StoreReason.PENDING)
    path.write_text(line(canary))
    result = await c.check(run())
    assert result.status is Status.OK
    assert c.books.counts() == zero(written=1, found=1)


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
