"""The store checks' accounting: pending, found, missing, late, duplicate, lost, dropped and
forged canaries, counted exactly, with the series to match."""

from __future__ import annotations

import json

import pytest

from exporter.checks.canaries import CanaryLedger
from exporter.checks.stores.book import CanaryBook, Sightings, StoreOptions
from exporter.checks.stores.lines import seen_in_line
from exporter.options import Seconds
from tests.support.books import STORE, Books, zero


def test_a_found_canary_is_counted_once_with_its_delay() -> None:
    b = Books(max_delay=30)
    (canary,) = b.write()
    wanted = b.book.take(canary.written + 0.5)
    assert wanted.pending == (canary,)
    assert b.pending() == 1
    b.book.settle(wanted, Sightings({canary.key: 1}), canary.written + 0.75)
    assert b.counts() == zero(written=1, found=1)
    assert b.pending() == 0
    assert b.delays() == 1
    assert (
        b.registry.get_sample_value(
            "smoke_test_canary_delay_seconds_bucket", {"store": STORE, "le": "1.0"}
        )
        == 1
    )
    assert (
        b.registry.get_sample_value(
            "smoke_test_canary_delay_seconds_bucket", {"store": STORE, "le": "0.5"}
        )
        == 0
    )
    assert b.book.newest is not None
    assert (b.book.newest.found, b.book.newest.delay) == (True, 0.75)


def test_canary_stays_pending_until_a_query_made_max_delay_after_it_misses_it() -> None:
    b = Books(max_delay=30)
    (canary,) = b.write()
    for asked in (0.1, 10, 29.999):
        wanted = b.book.take(canary.written + asked)
        b.book.settle(wanted, Sightings(), canary.written + asked)
        assert b.counts() == zero(written=1)
        assert b.book.newest is None
    wanted = b.book.take(canary.written + 30)
    b.book.settle(wanted, Sightings(), canary.written + 30.01)
    assert b.counts() == zero(written=1, missing=1)
    assert b.pending() == 0
    assert b.book.newest is not None
    assert b.book.newest.found is False


def test_a_missing_canary_that_shows_up_is_late_not_found() -> None:
    b = Books(max_delay=1, late_window=60)
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written + 2), Sightings(), canary.written + 2)
    wanted = b.book.take(canary.written + 5)
    assert wanted.pending == ()
    assert wanted.late == (canary,)
    b.book.settle(wanted, Sightings({canary.key: 1}), canary.written + 5)
    assert b.counts() == zero(written=1, missing=1, late=1)
    assert b.delays() == 0
    # Late once: it is no longer asked for.
    assert b.book.take(canary.written + 6).late == ()


def test_a_missing_canary_is_watched_for_only_during_late_window() -> None:
    b = Books(max_delay=1, late_window=10)
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written + 2), Sightings(), canary.written + 2)
    assert b.book.take(canary.written + 9.9).late == (canary,)
    wanted = b.book.take(canary.written + 10.1)
    assert wanted.late == ()
    b.book.settle(wanted, Sightings({canary.key: 1}), canary.written + 10.2)
    assert b.counts() == zero(written=1, missing=1)


def test_copies_beyond_the_first_are_duplicates() -> None:
    b = Books()
    first, second = b.write(2)
    wanted = b.book.take(first.written)
    b.book.settle(wanted, Sightings({first.key: 3, second.key: 1}), first.written + 1)
    assert b.counts() == zero(written=2, found=2, duplicate=2)


def test_more_copies_of_a_found_canary_met_in_a_stream_are_duplicates() -> None:
    b = Books()
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written), Sightings({canary.key: 1}), canary.written + 1)
    wanted = b.book.take(canary.written + 2)
    b.book.settle(wanted, Sightings({canary.key: 1}), canary.written + 2)
    assert b.counts() == zero(written=1, found=1, duplicate=1)


def test_a_recheck_that_finds_nothing_is_a_loss_and_fails_until_one_succeeds() -> None:
    b = Books()
    one, two = b.write(2)
    b.book.settle(b.book.take(one.written), Sightings({one.key: 1, two.key: 1}), one.written + 1)
    wanted = b.book.take(one.written + 5)
    assert wanted.recheck is not None
    gone = wanted.recheck.canary
    b.book.settle(wanted, Sightings(recheck=0), one.written + 5)
    assert b.counts() == zero(written=2, found=2, lost=1)
    assert b.book.lost is not None
    assert f"canary seq {gone.seq} of run {gone.run_id}" in b.book.lost
    # The lost one is never re-checked again; the other one is, and is there.
    wanted = b.book.take(one.written + 6)
    assert wanted.recheck is not None
    assert wanted.recheck.canary != gone
    b.book.settle(wanted, Sightings(recheck=1), one.written + 6)
    assert b.book.lost is None
    assert b.counts() == zero(written=2, found=2, lost=1)


def test_a_recheck_that_finds_more_copies_counts_the_extra_ones_once() -> None:
    b = Books()
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written), Sightings({canary.key: 1}), canary.written + 1)
    for _ in range(2):
        wanted = b.book.take(canary.written + 2)
        b.book.settle(wanted, Sightings(recheck=3), canary.written + 2)
    assert b.counts() == zero(written=1, found=1, duplicate=2)


def test_a_store_that_cannot_say_recheck_loses_nothing() -> None:
    b = Books()
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written), Sightings({canary.key: 1}), canary.written + 1)
    wanted = b.book.take(canary.written + 2)
    b.book.settle(wanted, Sightings(recheck=None), canary.written + 2)
    assert b.counts() == zero(written=1, found=1)
    assert b.book.lost is None


def test_canaries_found_before_recheck_window_are_not_rechecked() -> None:
    b = Books(recheck_window=60)
    (canary,) = b.write()
    b.book.settle(b.book.take(canary.written), Sightings({canary.key: 1}), canary.written + 1)
    assert b.book.take(canary.written + 61).recheck is not None
    assert b.book.take(canary.written + 61.01).recheck is None


def test_pending_beyond_max_pending_are_dropped_oldest_first() -> None:
    b = Books(max_pending=3)
    canaries = b.write(5)
    wanted = b.book.take(canaries[0].written)
    assert [c.seq for c in wanted.pending] == [3, 4, 5]
    assert b.counts() == zero(written=5, dropped_pending=2)
    assert b.pending() == 3


def test_canaries_the_ledger_forgot_count_as_written_and_dropped() -> None:
    b = Books()
    b.ledger = b.book.ledger = CanaryLedger("host-a", keep=2)
    b.write(5)
    wanted = b.book.take(0)
    assert [c.seq for c in wanted.pending] == [4, 5]
    assert b.counts() == zero(written=5, dropped_pending=3)


def test_a_book_counts_only_canaries_written_after_it_began() -> None:
    b = Books()
    b.write(2)
    book = CanaryBook(b.ledger, b.stores.series("later"), StoreOptions())
    (third,) = b.write()
    assert book.take(third.written).pending == (third,)


def test_the_newest_settled_canary_decides() -> None:
    b = Books(max_delay=1)
    old, new = b.write(2)
    b.book.settle(b.book.take(new.written), Sightings({new.key: 1}), new.written + 0.1)
    b.book.settle(b.book.take(old.written + 2), Sightings(), old.written + 2)
    assert b.book.newest is not None
    assert (b.book.newest.canary, b.book.newest.found) == (new, True)


def test_options_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="max_pending: 0 must be at least 1"):
        StoreOptions(max_pending=0)
    with pytest.raises(ValueError, match="late_window: 5s is shorter than max_delay 30s"):
        StoreOptions(late_window=Seconds(5))


def test_a_line_is_ours_only_with_our_instance_run_and_seq() -> None:
    ledger = CanaryLedger("host-a")
    signed = f', "signature": "{ledger.sign("abc", 7)}"}}'
    ours = '{"message": "m", "run_id": "abc", "seq": 7, "instance": "host-a"' + signed
    assert seen_in_line(ours, ledger) == (("abc", 7), True)
    assert seen_in_line("2026-12-03T12:00:00Z host app[1] " + ours, ledger) == (("abc", 7), True)
    assert seen_in_line(ours, CanaryLedger("host-b")) is None
    other = {"instance": "host-a", "signature": ledger.sign("abc", 7)}
    for fields in ({"run_id": "abc", "seq": "7"}, {"run_id": "abc", "seq": True}):
        assert seen_in_line(json.dumps(fields | other), ledger) is None
    assert seen_in_line(json.dumps({"run_id": 5, "seq": 7} | other), ledger) is None
    assert seen_in_line("no json here", ledger) is None
    assert seen_in_line('{"broken": ', ledger) is None
    assert seen_in_line("[1, 2]", ledger) is None


def test_dropping_a_store_removes_its_series_and_state() -> None:
    b = Books()
    kept: list[str] = b.stores.state(STORE, "slot", "id", list)
    assert b.stores.state(STORE, "slot", "id", list) is kept
    assert b.stores.state(STORE, "slot", "other", list) is not kept
    b.stores.keep([])
    assert b.pending() is None
    assert b.registry.get_sample_value("smoke_test_canary_found_total", {"store": STORE}) is None
