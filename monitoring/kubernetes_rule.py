"""Writes the PrometheusRule of deploy/kubernetes/service.yaml from the shipped rule files:
`make kubernetes-rule`.

Its groups are those of SOURCES, in order; the rest of TARGET stays as it is.
tests/test_kubernetes.py fails until the file is rewritten after a rule changes. Needs PyYAML
(the exporter's own dependency): run it with .venv/bin/python.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

# The two rule files a Prometheus that scrapes exporters loads; the fleet rules belong on each
# level of a federation (docs/fleet.md), not here.
SOURCES = ("monitoring/alerts.yml", "monitoring/slo-rules.yml")
TARGET = "deploy/kubernetes/service.yaml"
KIND = "kind: PrometheusRule"
SEPARATOR = "---\n"
WIDTH = 100


class Refused(Exception):
    """A file this script will not rewrite, in one line."""


def rewrite(text: str, groups: list[object]) -> str:
    """``text`` with the groups of its PrometheusRule, its last document, set to ``groups``."""
    if KIND not in text:
        raise Refused(f"{TARGET} holds no PrometheusRule")
    start = text.rindex(SEPARATOR, 0, text.index(KIND)) + len(SEPARATOR)
    if SEPARATOR in text[start:]:
        raise Refused(f"{TARGET}: the PrometheusRule is not the last document")
    document = yaml.safe_load(text[start:])
    document["spec"]["groups"] = groups
    return text[:start] + yaml.safe_dump(document, sort_keys=False, width=WIDTH)


def main(argv: list[str]) -> int:
    """Rewrite TARGET (or --output): 0, 1 for a file it cannot read or rewrite."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repository = Path(__file__).resolve().parent.parent
    parser.add_argument("--root", type=Path, default=repository, help="the repository")
    parser.add_argument("--output", type=Path, help=f"where to write (default ROOT/{TARGET})")
    args = parser.parse_args(argv)
    output = args.output or args.root / TARGET
    try:
        groups = [
            group
            for name in SOURCES
            for group in yaml.safe_load((args.root / name).read_text(encoding="utf-8"))["groups"]
        ]
        text = rewrite((args.root / TARGET).read_text(encoding="utf-8"), groups)
        output.write_text(text, encoding="utf-8")
    except (Refused, OSError, yaml.YAMLError) as error:
        print(f"kubernetes_rule: {error}", file=sys.stderr)
        return 1
    print(f"kubernetes_rule: {len(groups)} groups from {len(SOURCES)} files written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
