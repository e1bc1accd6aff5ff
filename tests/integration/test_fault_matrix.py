"""The fault matrix against the real process: a broken sink fails every run with its cause and
never passes while the fault holds; the exporter keeps serving; the repair heals with no restart.
Rotation is no fault: it never fails a run, and the canary lands in the new file at the path.

Each row breaks a sink between two scheduled runs (runs every 0.5 s), so no run straddles the
moment of the fault or of the repair, and every count can be exact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CANARY
from tests.disks import tiny_filesystem
from tests.integration.conftest import Start
from tests.integration.exporter_process import (
    ExporterProcess,
    Response,
    finished_lines,
    lines,
    lines_once_whole,
)
from tests.pipes import stuck_pipe

INTERVAL = 0.5
# Without access lines, each failed run puts exactly two records through a sink (its canary
# and its WARNING), and a passing run one: sink-error counts become exact. The faults fail a
# canary at once; the timeout is long, so a sink thread a busy machine holds up is no timeout.
FLAGS = (f"--smoke-test.interval={INTERVAL}", "--log.access=false", "--smoke-test.timeout=10")
HOLD_RUNS = 3  # at least this many scheduled and this many HTTP runs while a fault holds
HISTORY_SIZE = 50
ENOSPC = "[Errno 28] No space left on device"
PAGE = 4096

RUNS = "smoke_test_runs_total"
FAILURES = "smoke_test_failures_total"
SINK_ERRORS = "smoke_test_log_sink_errors_total"
DROPPED = "smoke_test_log_records_dropped_total"
CONFIRMED = "smoke_test_log_delivery_seconds_count"  # canaries a sink confirmed
LAST_SUCCESS = "smoke_test_last_success_timestamp_seconds"


class Scrape:
    """One /metrics answer, parsed with the client library's own parser."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """One series' value; a missing series fails the test."""
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no sample {name}{labels}"
        return self.samples[key]

    def by_sink(self, name: str) -> dict[tuple[str, str], float]:
        """A {sink, reason} counter as {(sink, reason): value}."""
        return {
            (labels["sink"], labels["reason"]): value
            for (sample, pairs), value in self.samples.items()
            if sample == name
            for labels in [dict(pairs)]
        }

    def total(self, name: str) -> float:
        """The sum over every series of ``name``."""
        return sum(value for (sample, _), value in self.samples.items() if sample == name)


def grown(before: Scrape, after: Scrape, name: str) -> dict[tuple[str, str], float]:
    """How much each {sink, reason} series of ``name`` grew; series that did not are left out."""
    old = before.by_sink(name)
    return {
        key: value - old[key] for key, value in after.by_sink(name).items() if value != old[key]
    }


@dataclass(frozen=True)
class Cause:
    """What a failed run must name: the sink, the reason and the exact error."""

    sink: str
    reason: str
    error: str

    @property
    def cause(self) -> str:
        return f"check logging failed on sink {self.sink}: {self.error}"

    @property
    def sinks(self) -> dict[str, str]:
        return {"stdout": "ok", "file": "ok", self.sink: "fail"}


def scrape(exporter: ExporterProcess) -> Scrape:
    response = exporter.get("/metrics")
    assert response.status == 200
    return Scrape(response.body.decode())


def assert_healthy(exporter: ExporterProcess) -> None:
    response = exporter.get("/-/healthy")
    assert (response.status, response.body) == (200, b"Healthy\n")


# What a scrape shows still on its way through the sinks, or None when it is all through.
Unsettled = Callable[[Scrape], str | None]


def file_confirmed_each_run(now: Scrape) -> str | None:
    """For a file sink that has confirmed every run so far: no run is in flight whose canary
    the file has confirmed already. A sink broken now then fails whole runs only."""
    runs, confirmed = now.total(RUNS), now.value(CONFIRMED, sink="file")
    if confirmed == runs:
        return None
    return f"the file confirmed {confirmed:g} canaries, {runs:g} runs have ended"


History = list[dict[str, Any]]


def early_in_its_interval(runs: History) -> str | None:
    """Whether the next scheduled run is a fifth of an interval away or more: the newest run is a
    scheduled one that began an interval after the one before it, on its slot (a run that began
    late leaves less of its interval: the schedule keeps to its grid), and at most four fifths of
    an interval ago. None if so; else why not."""
    if [run["trigger"] for run in runs[:2]] != ["schedule", "schedule"]:
        return "the newest two runs are not both scheduled ones"
    began, before = (datetime.fromisoformat(run["time"]).timestamp() for run in runs[:2])
    if abs(began - before - INTERVAL) > INTERVAL / 10:
        return f"the newest run began {began - before:.3f} s after the one before: off its slot"
    if time.time() - began > INTERVAL * 4 / 5:
        return f"the newest run began {time.time() - began:.3f} s ago: the next one is near"
    return None


def between_runs(
    exporter: ExporterProcess, unsettled: Unsettled = file_confirmed_each_run
) -> tuple[Scrape, History]:
    """Wait until a scheduled run has finished and its lines are through the sinks, and the next
    run is not near, so a sink broken or repaired now is broken for whole runs. Returns the
    scrape and the history of that moment.

    A failed run logs its WARNING as it ends, and a sink thread takes that line after the run;
    the next run may have begun: ``unsettled`` says from a scrape what of either it shows, if
    anything. On a busy machine a run may begin late, near the next: the moment after the next
    is waited for then.
    """
    seen = scrape(exporter).value(RUNS, trigger="schedule")
    deadline = time.monotonic() + 5 * INTERVAL + 10
    while True:
        quiet = scrape(exporter)
        ended = quiet.value(RUNS, trigger="schedule")
        missing = unsettled(quiet) if ended > seen else "no scheduled run"
        if missing is None:
            runs: History = exporter.get("/smoke-test/history").json()["runs"]
            then = scrape(exporter)
            missing = early_in_its_interval(runs)
            if missing is not None:
                seen = ended
            elif (then.total(RUNS), then.value(CONFIRMED, sink="file")) == (
                quiet.total(RUNS),
                quiet.value(CONFIRMED, sink="file"),
            ):
                return quiet, runs  # no run ended, no canary was confirmed in between
            else:
                missing = "a run went on while the history was read"
        assert time.monotonic() < deadline, f"no quiet moment after a scheduled run: {missing}"
        time.sleep(0.005)


def counted(before: Scrape, cause: Cause, errors_per_run: int) -> Unsettled:
    """Each run since ``before`` has its errors counted on the sink at fault, and no more."""

    def unsettled(now: Scrape) -> str | None:
        ran = now.total(RUNS) - before.total(RUNS)
        errors = grown(before, now, SINK_ERRORS)
        if errors != {(cause.sink, cause.reason): errors_per_run * ran}:
            return f"{ran:g} runs, {errors_per_run} errors each; the sink errors grew by {errors}"
        # A broken file confirms no canary; a working one, each run's and no other.
        confirmed = now.value(CONFIRMED, sink="file") - before.value(CONFIRMED, sink="file")
        if confirmed != (0 if cause.sink == "file" else ran):
            return f"{ran:g} runs; the file confirmed {confirmed:g} canaries"
        return None

    return unsettled


def through_every_sink(exporter: ExporterProcess, log: Path) -> Unsettled:
    """Every line so far is through both sinks, when stdout fails each line and the file keeps
    them: no run is in flight, the file holds the newest run's WARNING, and stdout failed as many
    lines as the file holds."""

    def unsettled(now: Scrape) -> str | None:
        if (in_flight := file_confirmed_each_run(now)) is not None:
            return in_flight
        newest = exporter.get("/smoke-test/history").json()["runs"][0]["run_id"]
        kept = finished_lines(log)
        if not any(r["level"] == "WARNING" and r.get("run_id") == newest for r in kept):
            return f"the WARNING of run {newest} is not in {log} yet"
        failed = now.value(SINK_ERRORS, sink="stdout", reason="write")
        if failed != len(kept):
            return f"stdout failed {failed:g} lines, {log} holds {len(kept)}"
        return None

    return unsettled


def assert_fails_with(response: Response, cause: Cause) -> dict[str, Any]:
    assert response.status == 503, response.body
    body: dict[str, Any] = response.json()
    assert (body["status"], body["message"]) == ("fail", f"Smoke test failed: {cause.cause}")
    check = body["checks"]["logging"]
    assert check["status"] == "fail"
    assert (check["failed_sink"], check["reason"], check["error"]) == (
        cause.sink,
        cause.reason,
        cause.error,
    )
    assert check["sinks"] == cause.sinks
    return body


def canary_ids(path: Path) -> list[str]:
    """The run_id of every canary in a JSON log; fails on a partial line that stays, or a
    non-JSON line. A scheduled run may be writing its canary as it is read."""
    return [line["run_id"] for line in lines_once_whole(path) if line.get("message") == CANARY]


def fails_at_once(exporter: ExporterProcess, cause: Cause) -> dict[str, Any]:
    """The first run after the fault fails with its cause, and the gauges say so at once."""
    body = assert_fails_with(exporter.get("/smoke-test"), cause)
    now = scrape(exporter)
    assert now.value("smoke_test_success") == 0
    assert now.value("smoke_test_check_success", check="logging") == 0
    return body


def hold(exporter: ExporterProcess, before: Scrape, answer: Callable[[Response], object]) -> None:
    """While the fault (or the rotation) holds, poll liveness and metrics, and ask for the smoke
    test, until several HTTP-triggered and several scheduled runs have come and gone."""
    deadline = time.monotonic() + 15
    while True:
        assert_healthy(exporter)
        now = scrape(exporter)
        ran = {
            t: now.value(RUNS, trigger=t) - before.value(RUNS, trigger=t)
            for t in ("schedule", "http")
        }
        if min(ran.values()) >= HOLD_RUNS:
            return
        assert time.monotonic() < deadline, f"too few runs in 15 s: {ran}"
        if ran["http"] < HOLD_RUNS:  # then leave room for the schedule: ticks join HTTP runs
            answer(exporter.get("/smoke-test"))
        time.sleep(0.05)


def assert_no_run_passed(
    exporter: ExporterProcess,
    before: Scrape,
    cause: Cause,
    *,
    errors_per_run: int,
    passed_before: bool = True,
) -> Scrape:
    """NO FALSE PASS: every run since ``before`` failed, each with the cause, each counted."""
    after, runs = between_runs(exporter, counted(before, cause, errors_per_run))
    ran = after.total(RUNS) - before.total(RUNS)
    failed = after.total(FAILURES) - before.total(FAILURES)
    assert failed == ran, f"FALSE PASS: {ran - failed:g} of {ran:g} runs passed during the fault"
    assert ran >= 2 * HOLD_RUNS
    assert grown(before, after, SINK_ERRORS) == {(cause.sink, cause.reason): errors_per_run * ran}
    assert grown(before, after, DROPPED) == {}
    assert after.value(LAST_SUCCESS) == before.value(LAST_SUCCESS)
    assert after.value("smoke_test_success") == 0
    assert after.value("smoke_test_check_success", check="logging") == 0
    assert ran < HISTORY_SIZE  # the history holds every run of the fault, and one more
    during = runs[: int(ran)]
    assert {(run["status"], run["cause"]) for run in during} == {("fail", cause.cause)}
    assert {run["trigger"] for run in during} == {"schedule", "http"}
    if passed_before:
        assert runs[int(ran)]["status"] == "ok"  # the last run before the fault
    return after


def assert_heals(exporter: ExporterProcess, broken: Scrape, first: Scrape) -> str:
    """The next run passes, in the same process; nothing fails any more. Its run_id."""
    response = exporter.get("/smoke-test")
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "file": "ok"}
    now = scrape(exporter)
    assert now.value("smoke_test_success") == 1
    assert now.value("smoke_test_check_success", check="logging") == 1
    assert now.value(LAST_SUCCESS) > broken.value(LAST_SUCCESS)
    assert grown(broken, now, SINK_ERRORS) == {}
    # No restart: the process we started still runs, and it started when it first did.
    assert exporter.process.poll() is None
    assert now.value("process_start_time_seconds") == first.value("process_start_time_seconds")
    return str(body["run_id"])


def started(start: Start, log: Path, *args: str, **kwargs: Any) -> tuple[ExporterProcess, Scrape]:
    """The console script with a log file, and its first scrape (its start time is in it)."""
    exporter = start(f"--log.file={log}", *args, **kwargs)
    return exporter, scrape(exporter)


# --- the log file -------------------------------------------------------------------------


def to_dev_full(path: Path) -> None:
    link = path.with_name("next.log")
    link.symlink_to("/dev/full")
    os.replace(link, path)  # atomic: the path is never missing


def to_regular_file(path: Path) -> None:
    real = path.with_name("real.log")
    real.touch()
    link = path.with_name("next.log")
    link.symlink_to(real)
    os.replace(link, path)


def to_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def remove_directory(path: Path) -> None:
    shutil.rmtree(path.parent)


def recreate_directory(path: Path) -> None:
    path.parent.mkdir()


@dataclass(frozen=True)
class FileFault:
    """A way to break the log file's path, its repair, and the cause a run must report."""

    fault: Callable[[Path], None]
    repair: Callable[[Path], None]
    reason: str
    error: str  # formatted with the path

    def cause(self, path: Path) -> Cause:
        return Cause("file", self.reason, self.error.format(path=path))


FILE_FAULTS = {
    "dev-full-through-a-symlink": FileFault(to_dev_full, to_regular_file, "write", ENOSPC),
    "directory-in-the-files-place": FileFault(
        to_directory, Path.rmdir, "open", "[Errno 21] Is a directory: '{path}'"
    ),
    "directory-removed": FileFault(
        remove_directory,
        recreate_directory,
        "open",
        "[Errno 2] No such file or directory: '{path}'",
    ),
}


def file_fault_row(
    exporter: ExporterProcess,
    first: Scrape,
    path: Path,
    cause: Cause,
    *,
    fault: Callable[[], None],
    repair: Callable[[], None],
) -> None:
    """Break between runs, fail at once, hold without a pass, repair between runs, heal."""
    before, _ = between_runs(exporter)
    fault()
    fails_at_once(exporter, cause)
    hold(exporter, before, lambda response: assert_fails_with(response, cause))
    broken = assert_no_run_passed(exporter, before, cause, errors_per_run=2)
    repair()
    run_id = assert_heals(exporter, broken, first)
    assert canary_ids(path).count(run_id) == 1  # the canary is in the file at the path


@pytest.mark.parametrize("row", FILE_FAULTS)
def test_log_file_fault_fails_every_run_with_its_cause_and_heals_without_restart(
    start: Start, log_path: Path, row: str
) -> None:
    spec = FILE_FAULTS[row]
    exporter, first = started(start, log_path, *FLAGS)
    file_fault_row(
        exporter,
        first,
        log_path,
        spec.cause(log_path),
        fault=lambda: spec.fault(log_path),
        repair=lambda: spec.repair(log_path),
    )
    assert exporter.stop() == 0


def fill_disk(disk: Path, log: Path) -> int:
    """Leave 100 bytes in the log's last page, fill every other page; the log's size then.

    The next line is written in part before the disk refuses the rest.
    """
    padding = -(log.stat().st_size + 100 + len('{"pad": ""}\n')) % PAGE
    with log.open("a") as f:
        f.write('{"pad": "' + "x" * padding + '"}\n')
    with (disk / "filler").open("ab", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 512)
    return log.stat().st_size


def test_real_full_disk_fails_every_run_keeps_whole_lines_and_heals_when_space_is_freed(
    start: Start, tmp_path: Path
) -> None:
    with tiny_filesystem(tmp_path / "disk") as disk:
        log = disk / "exporter.log"
        exporter, first = started(start, log, *FLAGS)
        full_size: list[int] = []

        def fill() -> None:
            full_size.append(fill_disk(disk, log))

        def free() -> None:
            # Every partial line was cut off again: the log is whole lines, as filling left it.
            assert log.stat().st_size == full_size[0]
            lines(log)
            (disk / "filler").unlink()

        try:
            file_fault_row(
                exporter, first, log, Cause("file", "write", ENOSPC), fault=fill, repair=free
            )
            assert exporter.stop() == 0
        finally:
            exporter.kill()  # the exporter lets go of the disk before it is unmounted


# --- rotation is no fault -----------------------------------------------------------------


def rename(path: Path) -> Path:
    rotated = path.with_suffix(".log.1")
    path.rename(rotated)
    return rotated


def copytruncate(path: Path) -> Path:
    rotated = path.with_suffix(".log.1")
    shutil.copy(path, rotated)
    os.truncate(path, 0)
    return rotated


def delete(path: Path) -> None:
    path.unlink()


ROTATIONS: dict[str, Callable[[Path], Path | None]] = {
    "renamed": rename,
    "copytruncate": copytruncate,
    "deleted": delete,
}


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_rotated_log_file_never_fails_a_run_and_the_canary_lands_in_the_new_file(
    start: Start, log_path: Path, rotation: str
) -> None:
    exporter, first = started(start, log_path, *FLAGS)
    before, _ = between_runs(exporter)
    rotated = ROTATIONS[rotation](log_path)
    old = rotated.read_bytes() if rotated else b""

    def passes(response: Response) -> None:
        assert response.status == 200, response.body
        body = response.json()
        assert body["checks"]["logging"]["sinks"] == {"stdout": "ok", "file": "ok"}
        assert canary_ids(log_path).count(body["run_id"]) == 1

    passes(exporter.get("/smoke-test"))
    hold(exporter, before, passes)
    after, history = between_runs(exporter)
    ids = canary_ids(log_path)
    ran = after.total(RUNS) - before.total(RUNS)
    assert ran >= 2 * HOLD_RUNS
    assert after.total(FAILURES) == before.total(FAILURES)  # NO FALSE FAIL
    assert grown(before, after, SINK_ERRORS) == {}
    assert grown(before, after, DROPPED) == {}
    assert after.value("smoke_test_success") == 1
    runs = history[: int(ran)]
    assert {run["status"] for run in runs} == {"ok"}
    # Every run since the rotation, and nothing else, has its canary in the file at the path.
    assert sorted(ids) == sorted(run["run_id"] for run in runs)
    if rotated:
        assert rotated.read_bytes() == old  # the old file got nothing more
    assert after.value("process_start_time_seconds") == first.value("process_start_time_seconds")
    assert exporter.stop() == 0


# --- stdout -------------------------------------------------------------------------------


def test_closed_stdout_fails_every_run_with_epipe_keeps_serving_and_the_file_still_confirms(
    start: Start, log_path: Path
) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        exporter, first = started(start, log_path, *FLAGS, stdout=write_fd, announce=log_path)
        cause = Cause("stdout", "write", "[Errno 32] Broken pipe")
        before, _ = between_runs(exporter, through_every_sink(exporter, log_path))
        fails_at_once(exporter, cause)
        hold(exporter, before, lambda response: assert_fails_with(response, cause))
        assert_no_run_passed(exporter, before, cause, errors_per_run=2, passed_before=False)
        # A closed pipe cannot be reopened in-process: it keeps failing, and keeps serving.
        body = fails_at_once(exporter, cause)
        assert_healthy(exporter)
        assert exporter.process.poll() is None
        start_time = scrape(exporter).value("process_start_time_seconds")
        assert start_time == first.value("process_start_time_seconds")
        # The file sink confirmed every run: each canary is in the file exactly once.
        runs = exporter.get("/smoke-test/history").json()["runs"]
        ids = canary_ids(log_path)
        assert [ids.count(run["run_id"]) for run in runs] == [1] * len(runs)
        # Only ticks of the schedule can have ended after the run just asked for.
        newer = runs[: [run["run_id"] for run in runs].index(body["run_id"])]
        assert {run["trigger"] for run in newer} <= {"schedule"}
        assert exporter.stop() == 0
    finally:
        os.close(write_fd)


def p99(seconds: list[float]) -> float:
    """The nearest-rank 99th percentile."""
    ranked = sorted(seconds)
    return ranked[-(-len(ranked) * 99 // 100) - 1]


def seconds_to_scrape(exporter: ExporterProcess) -> float:
    """How long one GET /metrics takes, over a new connection as Prometheus' first scrape."""
    began = time.perf_counter()
    response = exporter.get("/metrics")
    took = time.perf_counter() - began
    assert response.status == 200
    return took


def test_stdout_nobody_reads_times_out_every_run_while_metrics_stay_fast_then_heals(
    start: Start, log_path: Path, tmp_path: Path
) -> None:
    cause = Cause("stdout", "timeout", "no confirmation within 0.25s")
    flags = (f"--smoke-test.interval={INTERVAL}", "--smoke-test.timeout=0.25")
    # The same exporter with a stdout that takes its lines: how long a scrape takes on this
    # machine, now, when nothing waits on stdout.
    baseline = start(f"--log.file={tmp_path / 'baseline.log'}", *flags)
    with stuck_pipe() as pipe:
        # Access lines stay on: every request below queues one more line behind the stuck write.
        exporter, first = started(start, log_path, *flags, stdout=pipe.write_fd, announce=log_path)
        before, _ = between_runs(exporter)
        fails_at_once(exporter, cause)

        # While runs wait on the blocked stdout, the event loop answers /metrics at once.
        answers: list[Response] = []
        done = threading.Event()

        def keep_running_smoke_tests() -> None:
            while not done.is_set():
                answers.append(exporter.get("/smoke-test"))

        smoke_tests = threading.Thread(target=keep_running_smoke_tests)
        smoke_tests.start()
        try:
            seconds, usual = [], []
            for _ in range(200):  # in turns, so that both see the same load on the machine
                seconds.append(seconds_to_scrape(exporter))
                usual.append(seconds_to_scrape(baseline))
                time.sleep(0.01)  # spread over several runs, each waiting on the stuck stdout
        finally:
            done.set()
            smoke_tests.join(5)
        report = f"/metrics p99 {p99(seconds) * 1000:.1f} ms, {p99(usual) * 1000:.1f} ms usually"
        print(f"{report}, while stdout is blocked")
        # A blocked stdout adds less than 100 ms to a scrape's p99.
        assert p99(seconds) < p99(usual) + 0.1, report
        assert len(answers) >= 2
        for answer in answers:
            assert_fails_with(answer, cause)

        hold(exporter, before, lambda response: assert_fails_with(response, cause))
        broken = assert_no_run_passed(
            exporter, before, cause, errors_per_run=1, passed_before=False
        )
        pipe.drain()
        run_id = assert_heals(exporter, broken, first)
        assert exporter.stop() == 0
    assert baseline.stop() == 0
    # Once drained, stdout got the passing run's canary, once, among whole JSON lines.
    received = [json.loads(line) for line in pipe.received.decode().splitlines()]
    assert [line["run_id"] for line in received if line["message"] == CANARY].count(run_id) == 1
