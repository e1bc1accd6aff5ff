"""Points every shipped alert's runbook_url at one base: `make runbook-base RUNBOOK_BASE=URL`.

Each runbook_url is BASE#anchor, the anchor being the alert's heading in docs/runbook.md; only
BASE changes. Every file is read and checked before any is written. Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

# Every shipped file that holds a runbook_url (tests/test_runbook_base.py checks no other does).
SHIPPED = (
    "monitoring/alerts.yml",
    "monitoring/alerts_test.yml",
    "monitoring/fleet-rules.yml",
    "monitoring/fleet-rules_test.yml",
    "monitoring/grafana/provisioning/alerting/rules.yml",
    "monitoring/slo-rules.yml",
    "monitoring/slo-rules_test.yml",
    "monitoring/slo-rules_days_test.yml",
    "deploy/kubernetes/service.yaml",
)

# A runbook_url key, and the one form this script rewrites: an unquoted BASE#anchor.
KEY = re.compile(r"^\s*(?:- )?runbook_url\s*:")
URL = re.compile(r"^(?P<key>\s*(?:- )?runbook_url: )(?P<base>[^\s#'\"]+)#(?P<anchor>[a-z0-9-]+)$")

USAGE = "usage: runbook_base.py BASE [ROOT]  (BASE: an http(s) URL with no '#', e.g. "
USAGE += "https://wiki.example/smoke-test/runbook)"


class Refused(Exception):
    """A base or a file this script will not rewrite, in one line."""


def check_base(base: str) -> str:
    """``base`` when it is an http:// or https:// URL with a host, no fragment and no blank."""
    parts = urlsplit(base)
    if not base or parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(f"RUNBOOK_BASE {base!r} is not an http:// or https:// URL")
    if "#" in base or re.search(r"[\s'\"]", base):
        raise Refused(f"RUNBOOK_BASE {base!r} holds a '#', a quote or a blank")
    return base


def rewrite(path: Path, text: str, base: str) -> tuple[str, int]:
    """``text`` with the base of each runbook_url replaced, and how many there were."""
    lines = text.split("\n")
    count = 0
    for number, line in enumerate(lines, start=1):
        if not KEY.match(line):
            continue
        found = URL.match(line)
        if found is None:
            raise Refused(f"{path}:{number}: not a runbook_url of the form BASE#anchor: {line}")
        lines[number - 1] = f"{found['key']}{base}#{found['anchor']}"
        count += 1
    if count == 0:
        raise Refused(f"{path}: holds no runbook_url")
    return "\n".join(lines), count


def main(argv: list[str]) -> int:
    """Rewrite every shipped file under ROOT (the repository by default): 0, 1 for a file it
    cannot rewrite (nothing is written then), 2 for a bad BASE."""
    if len(argv) not in (1, 2):
        print(USAGE, file=sys.stderr)
        return 2
    root = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent.parent
    try:
        base = check_base(argv[0])
    except Refused as refused:
        print(f"runbook_base: {refused}", file=sys.stderr)
        return 2
    rewritten: dict[Path, str] = {}
    total = 0
    try:
        for name in SHIPPED:
            path = root / name
            rewritten[path], count = rewrite(path, path.read_text(encoding="utf-8"), base)
            total += count
    except (Refused, OSError) as error:
        print(f"runbook_base: {error}", file=sys.stderr)
        return 1
    for path, text in rewritten.items():
        path.write_text(text, encoding="utf-8")
    print(f"runbook_url: {total} in {len(rewritten)} files now start with {base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
