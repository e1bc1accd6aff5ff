"""A headless Debian Chromium driven by Selenium for the browser tests: a viewport, dark mode,
JavaScript off, the browser's own network log, and axe-core run in the page."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.promtool import ROOT, require

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# `make test` installs the npm package here (npm install --prefix .venv/node).
AXE = ROOT / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
# A browser that phones nobody: no background fetches, no updates, no QUIC probing, no sync,
# and /dev/shm left alone (a container's is small). --no-sandbox: the tests may run as root.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Chromium's content setting for JavaScript: 2 blocks it on every page.
BLOCK = 2
# How long one page load, one script (axe-core on a page is well under a second) may take.
TIMEOUT_SECONDS = 60


def missing(message: str) -> None:
    """Skip loudly; fail under CI=true, where every part must be installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


def axe_source() -> str:
    """axe-core's script; skips (fails in CI) when `make test` has not installed it."""
    if not AXE.is_file():
        missing(f"axe-core is not installed at {AXE} (npm package; `make test` installs it)")
    return AXE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Look:
    """How a browser shows pages: its viewport, colour scheme and whether scripts run."""

    width: int = 1200
    height: int = 900
    dark: bool = False
    javascript: bool = True


@dataclass(frozen=True)
class Screenshots:
    """The committed screenshots of the status page: their size and names."""

    width: int
    height: int
    names: tuple[str, ...]


# Written by tests/integration/test_status_page.py under STATUS_SCREENSHOTS=update (`make
# screenshots`), checked by tests/test_screenshots.py, shown in the README.
SCREENSHOTS = ROOT / "docs" / "screenshots"
SCREENSHOT = Screenshots(
    1440,
    900,
    tuple(
        f"status-{state}-{scheme}.png"
        for state in ("healthy", "failing")
        for scheme in ("light", "dark")
    ),
)


@dataclass
class Browser:
    """One Chromium and the URLs it has requested so far (data: URLs aside)."""

    driver: webdriver.Chrome
    look: Look
    requested: list[str] = field(default_factory=list)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)

    def requests(self) -> list[str]:
        """Every URL the page asked for, from the browser's performance log: documents,
        fetches, images, fonts. Reading the log drains it, so the URLs are kept here."""
        for entry in cast(list[dict[str, Any]], self.driver.get_log("performance")):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if not url.startswith("data:"):
                    self.requested.append(url)
        return list(self.requested)

    def axe_violations(self) -> list[dict[str, Any]]:
        """axe-core's violations on the open page: its script injected, then ``axe.run()``.
        A run that failed, or passed no rule at all (it saw no page), fails the test."""
        self.script(axe_source())
        results = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run().then((r) => done({violations: r.violations, passes: r.passes.length}),"
            " (e) => done({error: String(e)}));"
        )
        assert "error" not in results, f"axe.run() failed: {results['error']}"
        assert results["passes"] > 0, "axe-core passed no rule: it saw no page"
        return cast(list[dict[str, Any]], results["violations"])

    def screenshot(self, path: Path) -> None:
        """The viewport as a PNG of ``look.width`` by ``look.height`` pixels."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.driver.get_screenshot_as_png())


def start(profile: Path, look: Look) -> Browser:
    """A headless Chromium with a fresh profile in ``profile``; skipped (failed in CI) when
    Debian's chromium or chromium-driver is missing. The caller quits it."""
    require(CHROMIUM, "chromium")
    require(CHROMEDRIVER, "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={look.width},{look.height}"):
        options.add_argument(flag)
    if not look.javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": BLOCK}
        )
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # An alert stays open for the test to find, rather than being dismissed by the next command.
    options.unhandled_prompt_behavior = "ignore"
    # A Service with the driver's path: Selenium Manager (which downloads drivers) never runs.
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(TIMEOUT_SECONDS)
        driver.set_script_timeout(TIMEOUT_SECONDS)
        # The viewport itself, exactly: a headless window's size includes no frame, but this
        # pins it (and the pixel ratio, so a screenshot is width by height pixels).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": look.width, "height": look.height, "deviceScaleFactor": 1, "mobile": False},
        )
        scheme = "dark" if look.dark else "light"
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )
        # Chromium opens its own new-tab page (chrome:// requests): left, and its log drained,
        # so the log holds what the test's pages ask for and nothing else.
        driver.get("about:blank")
        driver.get_log("performance")  # type: ignore[no-untyped-call]
    except BaseException:
        driver.quit()
        raise
    return Browser(driver, look)


class Browsers:
    """Factory for a test: ``browsers(Look(...))`` starts one, ``quit()`` ends them all."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._open: list[Browser] = []

    def __call__(self, look: Look | None = None) -> Browser:
        profile = self._directory / f"chromium-{len(self._open)}"
        browser = start(profile, look or Look())
        self._open.append(browser)
        return browser

    def quit(self) -> None:
        """Quit every browser, even when quitting one fails."""
        with contextlib.ExitStack() as stack:
            for browser in self._open:
                stack.callback(browser.driver.quit)
