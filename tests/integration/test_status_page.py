"""The status page at ``/`` in a real headless Chromium, against the real exporter process with
real passing and failing checks on loopback: rows, live refresh, no JavaScript, widths, dark
mode, requests, escaping, accessibility and the screenshots."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from tests.integration.conftest import Start
from tests.integration.exporter_process import ExporterProcess
from tests.support.browser import SCREENSHOT, SCREENSHOTS, Browser, Browsers, Look
from tests.wait import wait_until

# A page refreshes every 5 s and the exporter runs every second: a change is on the page
# within about 6 s; the deadline leaves room for a loaded machine.
DEADLINE = 60.0
UP = {"status": "UP"}
HOSTILE = "<img src=x onerror=alert(1)>"
# What the page shows of it: the http check quotes the JSON value it found.
HOSTILE_ERROR = f'status is "{HOSTILE}", expected "UP"'
# A long word a server may answer (a token, a URL): it must wrap at 360 px too.
LONG_WORD = "x" * 150
UPDATE = os.environ.get("STATUS_SCREENSHOTS") == "update"

# Every figure of the page a test reads, taken in one script so that a refresh cannot land
# between two reads: per row its name, status, the visible text of its parts (null when
# hidden; white space as a reader sees it, a flex item's text being a line of its own) and its
# strip's marks, oldest first.
SNAPSHOT = r"""
const main = document.getElementById("status");
// A mark is a bare <i> for a pass, <i class="w"> for a warning, <i class="f"> for a failure.
const MARKS = {"": "ok", w: "warn", f: "fail"};
const shown = (el) => el !== null && el.checkVisibility();
const text = (el) => (shown(el) ? el.innerText.replace(/\s+/g, " ").trim() : null);
return {
  status: main.dataset.status,
  updated: main.dataset.updated || null,
  verdict: text(document.getElementById("verdict")),
  message: text(document.getElementById("message")),
  marker: window.statusPageMarker || null,
  rows: [...document.querySelectorAll("#checks > li.check")].map((row) => ({
    check: row.dataset.check,
    status: row.dataset.status,
    state: text(row.querySelector(".state")),
    reason: text(row.querySelector(".reason")),
    error: text(row.querySelector(".error")),
    target: text(row.querySelector(".target")),
    marks: [...row.querySelectorAll(".strip > i")].map((m) => MARKS[m.className] || m.className),
    images: row.querySelectorAll("img").length,
  })),
  failures: [...document.querySelectorAll("#failures > li.failure")].map((li) => ({
    check: li.dataset.check, text: text(li), images: li.querySelectorAll("img").length,
  })),
  images: document.querySelectorAll("img").length,
};
"""


@dataclass
class Answer:
    """What the loopback service answers next: a status and a JSON body."""

    status: int = 200
    body: Any = None


class Service:
    """A tiny HTTP service on loopback that the http and tcp checks look at; a test changes
    its answer to make a fault and to repair it."""

    def __init__(self) -> None:
        self.answer = Answer(200, UP)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                answer = service.answer
                body = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the checks ask every second."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    def answers(self, status: int, body: Any = UP) -> None:
        self.answer = Answer(status, body)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    yield running
    running.close()


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Browsers]:
    opened = Browsers(tmp_path)
    yield opened
    opened.quit()


def start_exporter(
    start: Start, directory: Path, service: Service, *, warn: bool = False, path: str = "healthz"
) -> ExporterProcess:
    """The exporter with five checks, all passing while ``service`` answers UP: an http check
    of it (at ``path``), a tcp check of its port, a disk check (``warn``: below a ratio it is
    always below), the logging check through a file sink, and a file store check that finds
    its canaries. Returned once the first run has finished."""
    log = directory / "app.log"
    log.touch()  # the store check reads it from the first run on
    disk = {"name": "log-disk", "type": "disk", "path": str(directory), "min_free_bytes": 1}
    if warn:
        disk["warn_free_ratio"] = 1
    config = {
        "sinks": [
            {"name": "stdout", "type": "stdout"},
            {"name": "app-log", "type": "file", "path": str(log)},
        ],
        "checks": [
            {
                "name": "app",
                "type": "http",
                "url": f"http://127.0.0.1:{service.port}/{path}",
                "json_path": "status",
                "json_equals": "UP",
            },
            {"name": "database", "type": "tcp", "address": f"127.0.0.1:{service.port}"},
            disk,
            {"name": "logging", "type": "logging"},
            {"name": "central", "type": "file", "path": str(log)},
        ],
    }
    config_file = directory / "smoke-test.yml"
    config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    exporter: ExporterProcess = start(
        f"--config.file={config_file}",
        "--smoke-test.interval=1s",
        "--smoke-test.timeout=5s",
        "--smoke-test.instance=web-1",
    )
    exporter.wait_ready()
    return exporter


def snapshot(browser: Browser) -> dict[str, Any]:
    return dict(browser.script(SNAPSHOT))


def wait_for(
    browser: Browser, what: str, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The page's snapshot once ``condition(snapshot)`` holds."""
    seen: list[dict[str, Any]] = [{}]

    def holds() -> bool:
        seen[0] = snapshot(browser)
        return bool(condition(seen[0]))

    try:
        wait_until(holds, what, DEADLINE)
    except AssertionError as error:
        raise AssertionError(f"{error}; the page showed {seen[0]}") from None
    return seen[0]


def within_one_refresh(
    browser: Browser, exporter: ExporterProcess, status: dict[str, str]
) -> dict[str, Any]:
    """The page's snapshot once its checks show ``status``, which must take at most one refresh
    after /status.json shows it (and the one in flight then, fetched a moment before)."""
    wait_until(
        lambda: served(exporter) == status,
        f"/status.json shows {status}",
        DEADLINE,
    )
    before = snapshot(browser)["updated"]
    refreshes: set[str] = set()

    def shown(page: dict[str, Any]) -> bool:
        if page["updated"] != before:
            refreshes.add(page["updated"])
        return statuses(page) == status

    page = wait_for(browser, f"the page shows {status}", shown)
    assert len(refreshes) <= 2, f"{len(refreshes)} refreshes after /status.json showed it"
    return page


def statuses(page: dict[str, Any]) -> dict[str, str]:
    """Each check's status on a page's snapshot."""
    return {row["check"]: row["status"] for row in page["rows"]}


def served(exporter: ExporterProcess) -> dict[str, str]:
    """Each check's status in /status.json."""
    return {
        check["name"]: check["status"] for check in exporter.get("/status.json").json()["checks"]
    }


def row(page: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in page["rows"] if r["check"] == name)


NAMES = ["app", "database", "log-disk", "logging", "central"]
ALL_OK = dict.fromkeys(NAMES, "ok")


def test_each_row_shows_its_status_in_words_with_reason_and_error(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    service.answers(503)
    url = start_exporter(start, tmp_path, service, warn=True).url
    browser = browsers()
    browser.open(url + "/")
    page = snapshot(browser)

    assert [r["check"] for r in page["rows"]] == NAMES
    assert page["status"] == "fail"
    assert page["verdict"] == "✗ 1 of 5 checks fails"
    app, database, disk, logging = (row(page, name) for name in NAMES[:4])
    assert (app["status"], app["state"]) == ("fail", "✗ fail")
    assert (app["reason"], app["error"]) == ("status", "status 503, expected 2xx")
    assert (database["status"], database["state"], database["reason"]) == ("ok", "✓ ok", None)
    assert database["error"] is None
    assert (disk["status"], disk["state"], disk["reason"]) == ("warn", "! warn", "free_space")
    assert re.fullmatch(
        r"\d+\.\d % free \(\d+\.\d [KMGT]?i?B\), under warn_free_ratio 1 \(100\.0 %\)",
        disk["error"],
    )
    assert (logging["status"], logging["state"], logging["reason"]) == ("ok", "✓ ok", None)
    assert [f["check"] for f in page["failures"]] == ["app"]
    # When, which check, why; then how often since when, once it has failed more than once.
    assert re.fullmatch(
        r"\d\d:\d\d app status: status 503, expected 2xx( \u00d7\d+ since \d\d:\d\d)?",
        page["failures"][0]["text"],
    )


def test_a_fault_appears_on_the_open_page_and_recovers_without_a_reload(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    exporter = start_exporter(start, tmp_path, service)
    browser = browsers()
    browser.open(exporter.url + "/")
    healthy = wait_for(browser, "every check ok", lambda p: statuses(p) == ALL_OK)
    # A reload would lose this; a refresh in place keeps it.
    browser.script("window.statusPageMarker = 'this page, never reloaded';")

    service.answers(500)
    failing = within_one_refresh(browser, exporter, {**ALL_OK, "app": "fail"})
    assert failing["marker"] == "this page, never reloaded"
    assert failing["updated"] is not None
    assert failing["updated"] != healthy["updated"]
    assert failing["status"] == "fail"
    app = row(failing, "app")
    assert (app["state"], app["reason"], app["error"]) == (
        "✗ fail",
        "status",
        "status 500, expected 2xx",
    )
    assert app["marks"][-1] == "fail"

    service.answers(200)
    recovered = within_one_refresh(browser, exporter, ALL_OK)
    assert recovered["marker"] == "this page, never reloaded"
    assert recovered["status"] == "ok"
    assert row(recovered, "app")["error"] is None
    assert row(recovered, "app")["marks"][-1] == "ok"
    assert [f["check"] for f in recovered["failures"]] == ["app"]


def test_without_javascript_the_page_shows_every_check_and_its_status(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    service.answers(503)
    url = start_exporter(start, tmp_path, service).url
    browser = browsers(Look(javascript=False))
    # The browser runs no script: this page's would have changed its title.
    browser.open("data:text/html,<title>before</title><script>document.title='ran'</script>")
    assert browser.driver.title == "before"

    expected = {**ALL_OK, "app": "fail"}
    seen: list[dict[str, Any]] = [{}]

    def loaded_settled() -> bool:
        """The page, loaded anew (it cannot refresh itself), once the store check settled."""
        browser.open(url + "/")
        seen[0] = snapshot(browser)
        return statuses(seen[0]) == expected

    wait_until(loaded_settled, "a loaded page with the central store settled", DEADLINE)
    page = seen[0]
    assert [r["check"] for r in page["rows"]] == NAMES
    assert page["status"] == "fail"
    assert page["updated"] is None
    app = row(page, "app")
    assert (app["state"], app["reason"], app["error"]) == (
        "✗ fail",
        "status",
        "status 503, expected 2xx",
    )
    for name in NAMES[1:]:
        assert (row(page, name)["state"], row(page, name)["error"]) == ("✓ ok", None)


@pytest.mark.parametrize("width", [360, 1920])
def test_the_page_fits_its_width_with_no_horizontal_scroll(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers, width: int
) -> None:
    service.answers(200, {"status": LONG_WORD})
    url = start_exporter(start, tmp_path, service).url
    browser = browsers(Look(width=width, height=900))
    browser.open(url + "/")
    wait_for(browser, "the app check fails", lambda p: row(p, "app")["status"] == "fail")
    inner, scroll, client = browser.script(
        "const root = document.documentElement;"
        "return [window.innerWidth, root.scrollWidth, root.clientWidth];"
    )
    assert inner == width
    assert scroll <= client, f"scrollWidth {scroll} > clientWidth {client} at {width} px"


def background(browser: Browser) -> list[float]:
    """The body's computed background colour, as [r, g, b, alpha]."""
    colour = browser.script("return getComputedStyle(document.body).backgroundColor;")
    channels = colour[colour.index("(") + 1 : -1].split(",")
    values = [float(c) for c in channels]
    return values if len(values) == 4 else [*values, 1.0]


def test_dark_mode_gives_the_page_a_dark_background(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    url = start_exporter(start, tmp_path, service).url
    light, dark = browsers(Look(dark=False)), browsers(Look(dark=True))
    for browser in (light, dark):
        browser.open(url + "/")
    light_bg, dark_bg = background(light), background(dark)
    assert light_bg != dark_bg
    assert dark_bg[3] == 1.0, f"the dark body is transparent: {dark_bg}"
    # Relative luminance well below the middle (WCAG's weights, near enough for a verdict).
    luminance = (0.2126 * dark_bg[0] + 0.7152 * dark_bg[1] + 0.0722 * dark_bg[2]) / 255
    assert luminance < 0.2, f"not dark: {dark_bg}"


def test_the_page_requests_nothing_but_the_exporter(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    url = start_exporter(start, tmp_path, service).url
    browser = browsers()
    browser.open(url + "/")
    first = wait_for(browser, "a refresh", lambda p: p["updated"] is not None)
    wait_for(browser, "a second refresh", lambda p: p["updated"] != first["updated"])

    requested = browser.requests()
    origin = urlsplit(url).netloc
    assert [u for u in requested if urlsplit(u).netloc != origin] == []
    # The log sees the page and its refreshes, so an empty list above means something.
    assert requested[0] == url + "/"
    assert requested.count(url + "/status.json") >= 2


def test_an_error_holding_markup_is_shown_as_text_and_runs_nothing(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    # Both ways outside text reaches the page: the URL the config names (the row's target and
    # the message) and what the server answered (the error, the message, the failure line).
    service.answers(200, {"status": HOSTILE})
    url = start_exporter(start, tmp_path, service, path=HOSTILE).url
    target = f"http://127.0.0.1:{service.port}/{HOSTILE}"
    browser = browsers()
    browser.open(url + "/")

    def hostile_shown(page: dict[str, Any]) -> bool:
        return bool(row(page, "app")["error"] == HOSTILE_ERROR)

    # As rendered by the server, then as the script writes it after a refresh.
    loaded = wait_for(browser, "the hostile error in the app row", hostile_shown)
    refreshed = wait_for(
        browser,
        "a refresh after it",
        lambda p: p["updated"] not in (None, loaded["updated"]) and hostile_shown(p),
    )
    for page in (loaded, refreshed):
        app = row(page, "app")
        assert (app["reason"], app["target"], app["images"]) == ("json", f"url {target}", 0)
        assert page["message"].endswith(f"on url {target}: {HOSTILE_ERROR}")
        (failure,) = page["failures"]
        assert failure["text"].split(" ", 1)[1].startswith(f"app json: {HOSTILE_ERROR}")
        assert failure["images"] == 0
        assert page["images"] == 0
    assert browser.driver.find_elements(By.CSS_SELECTOR, "img") == []
    with pytest.raises(NoAlertPresentException):
        browser.driver.switch_to.alert  # noqa: B018 (reading it asks the browser for an alert)
    assert [u for u in browser.requests() if urlsplit(u).path == "/x"] == []


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers, dark: bool
) -> None:
    service.answers(503)
    url = start_exporter(start, tmp_path, service, warn=True).url
    browser = browsers(Look(dark=dark))
    browser.open(url + "/")
    wait_for(browser, "the failures listed", lambda p: p["failures"] != [])

    violations = browser.axe_violations()
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)


def test_screenshots_of_a_healthy_and_a_failing_page(
    start: Start, tmp_path: Path, service: Service, browsers: Browsers
) -> None:
    # The page shows the paths the checks look at: a short one reads better in the README.
    directory = Path(tempfile.mkdtemp(prefix="app-"))
    exporter = start_exporter(start, directory, service)
    try:
        take_screenshots(exporter.url, tmp_path, service, browsers)
    finally:
        exporter.kill()
        shutil.rmtree(directory)


def take_screenshots(url: str, tmp_path: Path, service: Service, browsers: Browsers) -> None:
    """The four screenshots: every check passing, then the app failing; light and dark."""
    pages = {
        "light": browsers(Look(SCREENSHOT.width, SCREENSHOT.height, dark=False)),
        "dark": browsers(Look(SCREENSHOT.width, SCREENSHOT.height, dark=True)),
    }
    for browser in pages.values():
        browser.open(url + "/")

    def settled(status: str, runs: int) -> Any:
        """Every page shows ``status`` overall and at least ``runs`` marks of it on the app."""

        def holds(page: dict[str, Any]) -> bool:
            marks = row(page, "app")["marks"]
            return bool(page["status"] == status and marks[-runs:] == [status] * runs)

        return holds

    taken: list[Path] = []
    for state, status, answer, runs in (("healthy", "ok", 200, 8), ("failing", "fail", 503, 4)):
        service.answers(answer)
        for scheme, browser in pages.items():
            wait_for(browser, f"{runs} {status} runs on the {scheme} page", settled(status, runs))
            name = f"status-{state}-{scheme}.png"
            browser.screenshot(tmp_path / name)
            taken.append(tmp_path / name)
            if UPDATE:
                browser.screenshot(SCREENSHOTS / name)
    assert sorted(p.name for p in taken) == sorted(SCREENSHOT.names)
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in taken)
