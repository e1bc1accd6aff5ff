"""The README documents what the product has: every flag, metric, alert runbook and endpoint."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from exporter.app import create_app
from exporter.checks import CHECK_TYPES
from exporter.config import Settings
from exporter.config_file import load_plan
from exporter.flags import OPTIONS
from exporter.run.check_series import CheckSeries, Shape
from exporter.web.routes import route_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of ``markdown``."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_alert_runbook_url_points_at_a_readme_heading() -> None:
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())["groups"][0]["rules"]
    fleet = yaml.safe_load((ROOT / "monitoring" / "fleet-rules.yml").read_text())["groups"]
    rules += [rule for group in fleet for rule in group["rules"] if "alert" in rule]
    headings = anchors(README)
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url.endswith("README.md#" + rule["alert"].lower())
        assert rule["alert"].lower() in headings


def test_every_flag_and_its_variable_is_documented() -> None:
    for option in OPTIONS:
        assert f"`{option.flag}`" in README
        assert f"`{option.env}`" in README


def test_every_metric_family_is_documented(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    create_app(Settings(log_file=tmp_path / "x.log"), registry)
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        if name.startswith("smoke_test_"):
            assert f"`{name}" in README, name


def test_every_endpoint_is_documented() -> None:
    for path in (route.path for route in route_table("/metrics")):
        assert f"`{path}`" in README or f"`{path}` (" in README, path


def test_the_series_count_per_check_type_is_the_documented_one() -> None:
    documented = {
        name: int(count)
        for name, count in re.findall(r"the (\w+)\s+check: (\d+)", " ".join(README.split()))
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
    section = README.split("### Next to a service: a sidecar config", 1)[1]
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


def module_map() -> str:
    """The README's module map: the code block after "The package is a stack of floors"."""
    after = README[README.index("The package is a stack of floors") :]
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
