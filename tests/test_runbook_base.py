"""The runbook links: every shipped runbook_url shares one base and points at a heading of
docs/runbook.md, and `make runbook-base` (monitoring/runbook_base.py) rewrites that base in all
of them and nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "monitoring/runbook_base.py"
# A runbook_url key in YAML (or JSON), and its value.
RUNBOOK_URL = re.compile(r"""^(?P<key>\s*(?:- )?"?runbook_url"?\s*:\s*)(?P<url>.*)$""")
# Not the repository's own files: tools' caches, the venv, build output.
SKIPPED = re.compile(r"^(\.|dist$|build$|.*\.egg-info$)")
NEW_BASE = "https://wiki.example/smoke-test/runbook"


def holds_runbook_urls(path: Path) -> bool:
    lines = path.read_text(encoding="utf-8").splitlines()
    return any(RUNBOOK_URL.match(line) for line in lines)


def shipped() -> list[str]:
    """Every YAML or JSON file of the repository with a runbook_url, found by looking."""
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [name for name in subdirectories if not SKIPPED.match(name)]
        for path in (Path(directory) / name for name in files):
            if path.suffix in (".yml", ".yaml", ".json") and holds_runbook_urls(path):
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)


def urls(text: str) -> list[str]:
    return [m["url"] for m in map(RUNBOOK_URL.match, text.splitlines()) if m is not None]


def copy(names: list[str], root: Path) -> dict[str, bytes]:
    """Copy ``names`` from the repository to ``root``; their bytes."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, root / name)
    return {name: (root / name).read_bytes() for name in names}


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script as `make runbook-base` runs it, from its copy under ``root``."""
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_the_shipped_files_with_runbook_urls_are_the_alert_rules_and_their_copies() -> None:
    assert shipped() == [
        "deploy/kubernetes/service.yaml",
        "monitoring/alerts.yml",
        "monitoring/alerts_test.yml",
        "monitoring/fleet-rules.yml",
        "monitoring/fleet-rules_test.yml",
        "monitoring/grafana/provisioning/alerting/rules.yml",
        "monitoring/slo-rules.yml",
        "monitoring/slo-rules_days_test.yml",
        "monitoring/slo-rules_test.yml",
    ]


def test_every_shipped_runbook_url_shares_one_base_and_points_at_a_runbook_heading() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    # Each heading is one alert's name, so its anchor is that name in lower case.
    headings = {name.lower() for name in re.findall(r"^## (\w+)$", runbook, flags=re.MULTILINE)}
    found = [url for name in shipped() for url in urls((ROOT / name).read_text())]
    assert len(found) == 101
    assert len({url.rpartition("#")[0] for url in found}) == 1
    assert {url.rpartition("#")[2] for url in found} == headings


def test_it_rewrites_the_base_of_every_runbook_url_and_nothing_else(tmp_path: Path) -> None:
    names = shipped()
    others = ["README.md", "docs/alerts.md", "docs/runbook.md", "monitoring/alertmanager.yml"]
    before = copy([*names, *others, SCRIPT], tmp_path)
    rewritten = run(tmp_path, NEW_BASE)
    assert (rewritten.returncode, rewritten.stderr) == (0, "")
    assert rewritten.stdout == f"runbook_url: 101 in 9 files now start with {NEW_BASE}\n"
    for name in names:
        old = before[name].decode().split("\n")
        new = (tmp_path / name).read_text(encoding="utf-8").split("\n")
        assert len(new) == len(old), name
        changed = 0
        for was, now in zip(old, new, strict=True):
            match = RUNBOOK_URL.match(was)
            if match is None:
                assert now == was, name
                continue
            anchor = match["url"].rpartition("#")[2]
            assert now == f"{match['key']}{NEW_BASE}#{anchor}", name
            changed += 1
        assert changed == len(urls(before[name].decode())) > 0, name
    for name in [*others, SCRIPT]:
        assert (tmp_path / name).read_bytes() == before[name], name
    (base,) = {url.rpartition("#")[0] for url in urls(before[names[0]].decode())}
    assert run(tmp_path, base).returncode == 0
    for name in names:
        assert (tmp_path / name).read_bytes() == before[name], name


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("", "is not an http:// or https:// URL"),
        ("wiki.example/runbook", "is not an http:// or https:// URL"),
        ("ftp://wiki.example/runbook", "is not an http:// or https:// URL"),
        ("https:///runbook", "is not an http:// or https:// URL"),
        ("https://wiki.example/runbook#top", "holds a '#', a quote or a blank"),
        ("https://wiki.example/run book", "holds a '#', a quote or a blank"),
        ('https://wiki.example/run"book', "holds a '#', a quote or a blank"),
    ],
)
def test_a_bad_base_exits_2_naming_it_and_changes_nothing(
    tmp_path: Path, base: str, problem: str
) -> None:
    before = copy([*shipped(), SCRIPT], tmp_path)
    refused = run(tmp_path, base)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f"runbook_base: RUNBOOK_BASE {base!r} {problem}\n"
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data, name


def test_a_runbook_url_it_cannot_rewrite_exits_1_and_writes_no_file(tmp_path: Path) -> None:
    names = shipped()
    copy([*names, SCRIPT], tmp_path)
    broken = tmp_path / "monitoring/grafana/provisioning/alerting/rules.yml"
    lines = broken.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if RUNBOOK_URL.match(line))
    key, _, url = lines[number].partition(": ")
    lines[number] = f'{key}: "{url}"'
    broken.write_text("\n".join(lines), encoding="utf-8")
    before = {name: (tmp_path / name).read_bytes() for name in names}
    refused = run(tmp_path, NEW_BASE, str(tmp_path))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"runbook_base: {broken}:{number + 1}: not a runbook_url of the form BASE#anchor: "
        f"{lines[number]}\n"
    )
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data, name


def test_make_runbook_base_runs_the_script_with_the_base_given() -> None:
    dry = subprocess.run(
        ["make", "-s", "-n", "-C", str(ROOT), "runbook-base", f"RUNBOOK_BASE={NEW_BASE}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry.stdout == f"python3 {SCRIPT} '{NEW_BASE}'\n"
