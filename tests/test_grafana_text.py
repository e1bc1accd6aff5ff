"""What Grafana's notifications say: its `query` template function returns nothing, so the text
inside `{{ with ... | query }}...{{ end }}` is left out there, and what remains of every shipped
annotation must still read as whole sentences."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.grafana_queries import RULES

ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
OPENS = ("with ", "range ", "if ", "define ", "block ")
# A sentence cut where a dropped value stood: "of .", "an objective of  of", "( ", " ,".
BROKEN = re.compile(
    r"\b(?:of|with|an|a|the|at|in|from|and|or|for|by)\s*(?:[.,;:)]|$)|\s{2}|\s[.,;:)]|\(\s"
)


def without_query(template: str) -> str:
    """The template as Grafana renders it, each value kept as `V` and each `with ... | query`
    block left out, as Grafana's query function returns nothing."""
    out: list[str] = []
    blocks: list[bool] = []  # per open block: is it left out?
    position = 0
    for action in ACTION.finditer(template):
        if not any(blocks):
            out.append(template[position : action.start()])
        word = action.group(1)
        if word.startswith(OPENS):
            blocks.append(word.startswith("with ") and re.search(r"\|\s*query\b", word) is not None)
        elif word == "end":
            blocks.pop()
        elif word != "else" and not any(blocks):
            out.append("V")
        position = action.end()
    assert not blocks, f"unclosed block in {template!r}"
    out.append(template[position:])
    return "".join(out).strip()


def grafana_annotations() -> list[tuple[str, str, str]]:
    """(rule title, annotation, template) of every Grafana-managed rule."""
    document: Any = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [
        (rule["title"], key, text)
        for group in document["groups"]
        for rule in group["rules"]
        for key, text in rule.get("annotations", {}).items()
        if key != "runbook_url"
    ]


ANNOTATIONS = grafana_annotations()


def test_every_grafana_rule_has_annotations_to_read() -> None:
    assert len({title for title, _, _ in ANNOTATIONS}) == 19
    assert {key for _, key, _ in ANNOTATIONS} == {"summary", "description"}


@pytest.mark.parametrize(
    ("title", "key", "template"), ANNOTATIONS, ids=[f"{t}-{k}" for t, k, _ in ANNOTATIONS]
)
def test_what_grafana_leaves_of_an_annotation_reads_whole(
    title: str, key: str, template: str
) -> None:
    text = without_query(template)
    assert BROKEN.search(text) is None, f"{title} {key} reads, in Grafana: {text!r}"


def test_the_budget_page_reads_in_grafana_without_the_objective() -> None:
    (template,) = [
        text
        for title, key, text in ANNOTATIONS
        if title == "SmokeTestErrorBudgetBurn" and key == "description"
    ]
    assert without_query(template) == (
        "The V check on V (job V) fails often enough to spend its 30-day error budget V times "
        "as fast as the objective allows: above 14.4x over the last hour and the last 5 minutes, "
        "or 6x over 6 hours and 30 minutes. GET /smoke-test/history on the exporter shows each "
        "run's status and error."
    )


def test_a_value_left_out_mid_sentence_is_caught() -> None:
    """The wording this file was written against: the objective's words outside its block."""
    broken = (
        "The {{ $labels.check }} check, with an objective of {{ with printf "
        '"smoke_test_check_objective{check=%q}" $labels.check | query }}{{ . | first | value '
        "}}{{ end }} of its runs passing, fails."
    )
    text = without_query(broken)
    assert text == "The V check, with an objective of  of its runs passing, fails."
    assert BROKEN.search(text) is not None
