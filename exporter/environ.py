"""Environment variables with our prefix that no flag reads: a misspelling, named with the
nearest variable that does exist, since a misspelled flag exits 2 but a variable is ignored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import SequenceMatcher

from exporter.flags import ENV_PREFIX

# Below this likeness a known name is no suggestion at all.
MIN_LIKENESS = 0.5


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known variable ``name`` most likely meant: one whose last words are all of it
    (``…_INTERVAL`` for ``SMOKE_TEST_EXPORTER_INTERVAL``), else the most alike."""
    rest = name.removeprefix(ENV_PREFIX)
    best, best_score = None, MIN_LIKENESS
    for candidate in sorted(known):
        tail = candidate.removeprefix(ENV_PREFIX)
        score = 1.0 if tail.endswith("_" + rest) else SequenceMatcher(None, rest, tail).ratio()
        if score > best_score:
            best, best_score = candidate, score
    return best


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """A warning for each ``SMOKE_TEST_EXPORTER_*`` variable no flag reads, in name order."""
    known = frozenset(known)
    warnings = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        guess = nearest(name, known)
        hint = f"; did you mean {guess}?" if guess else "; see --help for the variables"
        warnings.append(f"environment variable {name} is not one the exporter reads{hint}")
    return warnings
