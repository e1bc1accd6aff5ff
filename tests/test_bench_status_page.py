"""The bench's status page, its untimed parts: the state it renders (a day of runs of 50
checks), the page's size against the issue's goal, and its table. `make bench` times it."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from bench.status_page import NOW, StatusPoint, state, status_section, status_table
from bench.targets import TARGETS
from exporter.status.assets import page_assets
from exporter.status.fold import fold
from exporter.status.page import render
from exporter.status.view import FAILURE_LINES, status_view


class Strips(HTMLParser):
    """Each check row's name, in page order, and the marks in its strip."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, int] = {}
        self._check = ""  # the row being read
        self._depth = 0  # li elements open in it: the row itself and its parts
        self._in_strip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "li" and self._depth:
            self._depth += 1
        elif tag == "li" and found.get("class") == "check":
            self._check, self._depth = found["data-check"] or "", 1
            self.marks[self._check] = 0
        elif tag == "div" and found.get("class") == "strip" and self._depth:
            self._in_strip = True
        elif self._in_strip and tag == "i":
            self.marks[self._check] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_strip = False
        elif tag == "li" and self._depth:
            self._depth -= 1


def page_at(checks: int) -> str:
    return render(status_view(state(checks), NOW), page_assets())


def test_the_page_at_50_checks_is_under_100_kb() -> None:
    size = len(page_at(50).encode("utf-8"))
    assert size < 100_000


def test_the_page_at_50_checks_has_a_row_per_check_with_50_marks_each() -> None:
    sources = state(50)
    strips = Strips()
    strips.feed(render(status_view(sources, NOW), page_assets()))
    assert list(strips.marks) == list(sources.checks)
    assert len(strips.marks) == 50
    assert set(strips.marks.values()) == {50}


def test_the_state_is_a_day_of_runs_with_warnings_failures_and_folded_failures() -> None:
    sources = state(50)
    view = status_view(sources, NOW)
    checks = view["checks"]
    assert (view["status"], view["verdict"], view["age"]) == (
        "fail",
        "3 of 50 checks fail",
        "12 s ago",
    )
    assert Counter(c["status"] for c in checks) == {"ok": 47, "fail": 3}
    assert Counter(m["status"] for c in checks for m in c["strip"]) == {
        "ok": 2334,
        "fail": 124,
        "warn": 42,
    }
    # Two runs a minute for a day; the first minute's two are just out of the window.
    assert {c["uptime"]["runs"] for c in checks} == {2878}
    logging, web, loki = checks[:3]
    assert [p["text"] for p in logging["parts"]] == ["0.9 ms", "0.4 ms", "2.1 ms"]
    assert (
        web["target"]
        == "url https://web-01.internal.example.com:8443/healthz?from=smoke-test-exporter"
    )
    assert loki["canaries"] == {
        "found": 2874,
        "pending": 2,
        "missing": 3,
        "late": 3,
        "duplicate": 1,
        "lost": 0,
    }
    assert len(sources.failures) == 50
    # The 70 folded lines of those 50 runs; the page shows the newest FAILURE_LINES of them.
    assert Counter(f.count for f in fold(list(sources.failures))) == {1: 31, 2: 24, 3: 15}
    assert len(view["failures"]) == FAILURE_LINES == 20


def test_the_target_is_met_below_100_000_bytes_only() -> None:
    [target] = [t for t in TARGETS if t.name == "status page at 50 checks"]
    assert target.goal == "< 100 KB"
    assert (target.met(99_999), target.met(100_000)) == (True, False)


POINTS = (
    StatusPoint(1, 18_950, 0.00082, 0.00048, 0.00059),
    StatusPoint(50, 226_408, 0.012414, 0.013171, 0.018284),
)


def test_the_table_shows_each_count_of_checks() -> None:
    assert status_table(POINTS) == "\n".join(
        [
            "| checks | page bytes | CPU per page render | CPU per status.json "
            "| CPU per page render, first in a minute |",
            "| ---: | ---: | ---: | ---: | ---: |",
            "| 1 | 18,950 | 0.82 ms | 0.48 ms | 0.59 ms |",
            "| 50 | 226,408 | 12.41 ms | 13.17 ms | 18.28 ms |",
        ]
    )


def test_the_section_says_how_it_was_measured_then_shows_the_table() -> None:
    assert status_section(POINTS, 40) == (
        "## Status page\n\n"
        "Built in this process, as a day of runs leaves it: the logging check (three sinks), "
        "then http,\nstore, tcp and disk checks in turn; a run every 30 s for 24 h, each check "
        "failing in 3\nruns of 60 and warning in one, with the errors those checks write. So "
        "each check has its 50\nmarks and a day of per-minute counts, and the last 50 failed "
        "runs are kept. CPU is this\nprocess's, the median of 5 rounds of 40 renders: the page "
        "(`/`) and its figures\n(`/status.json`, `json.dumps` of the same view) as a refresh "
        "between runs finds them; and the\npage first rendered in a new minute, when each "
        "check's 1440 per-minute counts are summed\nagain. Page bytes are the HTML's UTF-8 "
        "length, before any compression.\n\n" + status_table(POINTS)
    )
