"""The cost curves as PNG plots (matplotlib, the bench extra), and whether each is a line."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``: a, b, and R² (1.0 when every y is the same)."""
    b, a = statistics.linear_regression(xs, ys)
    if len(set(ys)) == 1:
        return a, b, 1.0
    return a, b, statistics.correlation(xs, ys) ** 2


def shape(xs: Sequence[float], ys: Sequence[float]) -> str:
    """How ``ys`` grows with ``xs``, in words, from the fit."""
    a, b, r2 = fit(xs, ys)
    words = "linear" if r2 >= 0.98 else "not a straight line"
    return f"{words}: R² {r2:.3f}, {a:.4g} + {b:.4g} per step of x"


def plot(
    path: Path,
    *,
    title: str,
    xlabel: str,
    xs: Sequence[float],
    lines: dict[str, Sequence[float]],
    ylabel: str,
) -> None:
    """One PNG: each named line against ``xs``, with markers at the measured points."""
    import matplotlib  # noqa: PLC0415  (the bench extra; only `make bench` draws)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=100)
    for label, ys in lines.items():
        axes.plot(xs, ys, marker="o", label=label)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
