"""The docs (README.md and docs/) document what the product has: every flag, metric, alert
runbook, endpoint and bound; and every link between them resolves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from exporter import preflight
from exporter.app import create_app
from exporter.checks import CHECK_TYPES
from exporter.checks.secrets import MAX_SECRET_BYTES
from exporter.config import Settings
from exporter.config_file import load_plan
from exporter.durations import MAX_DURATION_SECONDS
from exporter.fair import SURPLUS
from exporter.flags import OPTIONS
from exporter.headers import MAX_HEAD_BYTES
from exporter.logs.access_log import BAD_REQUESTS_PER_SECOND
from exporter.logs.cut import FIELD_BYTES
from exporter.logs.pipeline import QUEUE_SIZE
from exporter.run.check_series import CheckSeries, Shape
from exporter.run.timeline import MINUTES, STRIP_SIZE, ring_bytes
from exporter.web.limit import RESERVE, RESERVED_ROUTES
from exporter.web.login_gate import MAX_WAITING
from exporter.web.routes import route_table
from exporter.webconfig.credentials import CACHE_SIZE
from exporter.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_VALUES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted(DOCS.glob("*.md"))
# A link or an image: [text](target) or ![alt](target); the text may hold `code`.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^()\s]+)\)")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def prose(markdown: str) -> str:
    """``markdown`` without its fenced code blocks, which hold no heading and no link."""
    return re.sub(r"^```.*?^```[^\n]*$", "", markdown, flags=re.MULTILINE | re.DOTALL)


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``: the text (a link's text, no
    backticks) in lower case, punctuation dropped, blanks made dashes; a repeat gets -1, -2."""
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", prose(markdown), flags=re.MULTILINE):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        unique, repeat = slug, 0
        while unique in found:
            repeat += 1
            unique = f"{slug}-{repeat}"
        found.add(unique)
    return found


def test_anchors_follow_githubs_rules() -> None:
    markdown = (
        '# What "logging works" means\n## The health+json answer\n## `probe`, and [Runs](x.md)\n'
        "## Errors\n```sh\n# a comment, not a heading\n```\n## Errors\n"
    )
    assert anchors(markdown) == {
        "what-logging-works-means",
        "the-healthjson-answer",
        "probe-and-runs",
        "errors",
        "errors-1",
    }


def runbook_urls() -> dict[str, str]:
    """Every alert of alerts.yml, slo-rules.yml and fleet-rules.yml, and its runbook_url."""
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())["groups"][0]["rules"]
    for name in ("slo-rules.yml", "fleet-rules.yml"):
        groups = yaml.safe_load((ROOT / "monitoring" / name).read_text())["groups"]
        rules += [rule for group in groups for rule in group["rules"] if "alert" in rule]
    return {rule["alert"]: rule["annotations"]["runbook_url"] for rule in rules}


def test_every_alert_runbook_url_points_at_its_runbook_heading() -> None:
    urls = runbook_urls()
    (base,) = {url.rpartition("#")[0] for url in urls.values()}
    headings = anchors(page("runbook.md"))
    for alert, url in urls.items():
        assert url == f"{base}#{alert.lower()}"
        assert alert.lower() in headings


def test_every_runbook_heading_is_an_alert() -> None:
    section_headings = re.findall(r"^## (\w+)$", page("runbook.md"), flags=re.MULTILINE)
    assert sorted(section_headings) == sorted(runbook_urls())


def test_every_flag_and_its_variable_is_documented() -> None:
    flags = page("command-line.md")
    for option in OPTIONS:
        assert f"`{option.flag}`" in flags
        assert f"`{option.env}`" in flags


def test_every_metric_family_is_documented(tmp_path: Path) -> None:
    metrics = page("metrics.md")
    registry = CollectorRegistry()
    create_app(Settings(log_file=tmp_path / "x.log"), registry)
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        if name.startswith("smoke_test_"):
            assert f"`{name}" in metrics, name


def test_every_endpoint_is_documented() -> None:
    endpoints = page("endpoints.md")
    for path in (route.path for route in route_table("/metrics")):
        assert f"`{path}`" in endpoints or f"`{path}` (" in endpoints, path


def test_the_series_count_per_check_type_is_the_documented_one() -> None:
    documented = {
        name: int(count)
        for name, count in re.findall(
            r"the (\w+)\s+check: (\d+)", " ".join(page("metrics.md").split())
        )
    }
    assert set(documented) == set(CHECK_TYPES)
    for name, check_type in CHECK_TYPES.items():
        registry = CollectorRegistry()
        series = CheckSeries(registry)
        series.add("c", Shape(check_type.reason_values, observes=check_type.unit is not None))
        samples = [
            s for metric in registry.collect() for s in metric.samples if s.labels.get("check")
        ]
        assert len(samples) == documented[name], name


def test_the_sidecar_example_config_loads(tmp_path: Path) -> None:
    section = page("configuration.md").split("## Next to a service: a sidecar config", 1)[1]
    config = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "smoke-test.yml"
    path.write_text(config)
    plan = load_plan(Settings(config_file=path))
    assert [(c.name, c.type) for c in plan.checks] == [
        ("app", "http"),
        ("database", "tcp"),
        ("log-disk", "disk"),
        ("logging", "logging"),
    ]


def test_the_readme_tour_config_loads_as_the_readme_says(tmp_path: Path) -> None:
    section = README.split("## A short tour of the config", 1)[1].split("\n## ", 1)[0]
    config = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    console = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    path = tmp_path / "smoke-test.yml"
    path.write_text(config)
    loaded = preflight.load(Settings(config_file=path))
    assert console == [
        "$ .venv/bin/smoke-test-exporter --config.check --config.file=smoke-test.yml",
        loaded.summary(),
    ]
    assert loaded.summary() == "config OK: 3 sinks, 5 checks"
    assert [(s.name, s.type) for s in loaded.plan.sinks] == [
        ("stdout", "stdout"),
        ("app-log", "file"),
        ("central", "syslog"),
    ]
    assert [(c.name, c.type) for c in loaded.plan.checks] == [
        ("logging", "logging"),
        ("app", "http"),
        ("database", "tcp"),
        ("log-disk", "disk"),
        ("delivered", "file"),
    ]


def module_map() -> str:
    """The module map: the code block after "The package is a stack of floors"."""
    development = page("development.md")
    after = development[development.index("The package is a stack of floors") :]
    return after.split("```\n", 2)[1]


def test_the_module_map_names_every_module_and_only_modules_that_exist() -> None:
    # Entries: a line that starts with a path, and the indented lines that go on with it.
    entries: dict[str, str] = {}
    key = ""
    for line in module_map().splitlines():
        if line.startswith("exporter/"):
            key, _, rest = line.partition(" ")
            entries[key] = rest
        elif line.startswith(" ") and key:
            entries[key] += " " + line.strip()
        else:
            key = ""  # a floor's title
    for path in (ROOT / "exporter").rglob("*.py"):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(ROOT).as_posix()
        folder = path.parent.relative_to(ROOT).as_posix() + "/"
        # Named by its path, or by its name on its folder's entry.
        in_folder = re.search(rf"\b{path.stem}\b", entries.get(folder, "")) is not None
        assert relative in entries or in_folder, relative
    for named in entries:
        assert (ROOT / named).exists(), named


def broken_links(source: Path) -> list[str]:
    """The relative links and anchors of ``source`` that lead nowhere."""
    broken = []
    for target in LINK.findall(prose(source.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:: not ours to check
        path_part, _, anchor = target.partition("#")
        path = (source.parent / path_part).resolve() if path_part else source
        if not path.exists():
            broken.append(target)
            continue
        headings = anchors(path.read_text(encoding="utf-8")) if path.suffix == ".md" else set()
        if anchor and anchor not in headings:
            broken.append(target)
    return broken


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# A\n\n## Two words\n\n[ok](#two-words) [ok](b.md#b) ![ok](b.md) [ok](https://x/#y)\n"
        "[bad](#three) [bad](b.md#c) [bad](c.md) [bad](b.png#b)\n```\n[code](nowhere.md)\n```\n"
    )
    (tmp_path / "b.md").write_text("# B\n")
    (tmp_path / "b.png").write_bytes(b"")
    assert broken_links(tmp_path / "a.md") == ["#three", "b.md#c", "c.md", "b.png#b"]


def test_every_relative_link_and_anchor_in_the_docs_resolves() -> None:
    for source in [ROOT / "README.md", *PAGES]:
        assert broken_links(source) == [], source.name


def test_each_docs_page_opens_with_its_title_and_a_line_or_two_of_purpose() -> None:
    assert len(PAGES) >= 15
    for path in PAGES:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert re.fullmatch(r"# \S.*", lines[0]), path.name
        assert lines[1] == "", path.name
        purpose = lines[2 : lines.index("", 2)]
        assert 1 <= len(purpose) <= 2, path.name
        assert not re.match(r"[#|>`*-]|\d+\.", purpose[0]), path.name


def test_the_readme_links_every_docs_page() -> None:
    linked = {target for target in LINK.findall(prose(README)) if target.startswith("docs/")}
    assert {f"docs/{path.name}" for path in PAGES} <= linked


def bounds() -> dict[str, str]:
    """The security page's table of what is bounded: each row's first cell and its bound."""
    section = page("security.md").split("## What is bounded and by how much\n", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("| ")]
    return {cells[0]: cells[1] for cells in (row.strip("| ").split(" | ") for row in rows[2:])}


def spaced(number: int) -> str:
    """A number as the docs write it: 10 000."""
    return f"{number:,}".replace(",", " ")


def test_the_security_page_states_the_bounds_the_code_has() -> None:
    table = bounds()
    settings = Settings()
    assert RESERVED_ROUTES == ("metrics", "healthy", "ready")  # the routes the row names
    assert table["a sink's queue"] == f"{spaced(QUEUE_SIZE)} records"
    assert table["a value a client chooses, in a log line"] == f"{FIELD_BYTES} bytes, as written"
    assert table["the access log"] == (
        f"`--log.access-max-per-second` ({spaced(int(settings.access_log_per_second))}) lines "
        "and `--log.access-max-bytes-per-second` "
        f"({spaced(int(settings.access_log_bytes_per_second))}) bytes a second"
    )
    assert table["a request's head"] == (
        f"{MAX_HEAD_BYTES // 1024} KiB; a line of 8 190 bytes, 128 header fields"
    )
    assert table["lines about malformed requests"] == f"{BAD_REQUESTS_PER_SECOND:g} a second"
    assert table["open connections"] == (
        f"`--web.max-connections` ({settings.max_connections}) served, shared between client "
        f"addresses; {spaced(SURPLUS)} more accepted and waiting"
    )
    assert table["requests in flight"] == (
        f"`--web.max-requests` ({settings.max_requests}), and {RESERVE} more each for "
        "`/metrics`, `/-/healthy` and `/-/ready`"
    )
    assert table["password checks waiting, per client address"] == str(MAX_WAITING)
    assert table["right passwords remembered"] == str(CACHE_SIZE)
    assert table["a config file (`--config.file`, `--web.config.file`)"] == (
        f"{MAX_BYTES // 2**20} MiB, a regular file; {spaced(MAX_VALUES)} values once its aliases "
        f"are expanded; {MAX_DEPTH} levels of nesting"
    )
    assert table["a secret file"] == f"{MAX_SECRET_BYTES // 1024} KiB, one line, a regular file"
    assert MAX_DURATION_SECONDS == 365 * 86400
    assert table["a duration in a config file"] == "a year"


def test_the_flag_table_gives_each_flag_the_default_its_help_gives() -> None:
    page = (DOCS / "command-line.md").read_text()
    cells = {}
    for line in page.splitlines():
        match = re.match(r"^\| `(--[a-z.-]+)` \| `[A-Z_]+` \| ([^|]*) \|", line)
        if match:
            cells[match.group(1)] = match.group(2).strip()
    compared = 0
    for option in OPTIONS:
        default = re.search(r"\(default ([^;)]*)", option.help)
        if default is None:
            continue
        value = default.group(1).split(": ")[0]  # "(default false: the text format)"
        assert cells[option.flag] == f"`{value}`", option.flag
        compared += 1
    assert compared == 14


def test_the_status_pages_memory_is_stated_as_the_timeline_allocates_it() -> None:
    # The README and docs/status-page.md say it: 50 results, a 12-byte record a minute for
    # 24 h, and the rings' bytes at 50 checks (measured against real arrays in test_timeline).
    figures = (f"last {STRIP_SIZE} results", f"{ring_bytes(50):,} bytes at 50 checks")
    assert (MINUTES, ring_bytes(1)) == (24 * 60, 24 * 60 * 12)
    readme = " ".join(README.split())
    assert all(figure in readme for figure in figures), figures
    page = " ".join((DOCS / "status-page.md").read_text().split())
    assert f"At 50 checks the per-minute records take {ring_bytes(50):,} bytes" in page
