"""How a benchmark's runs become the figure in bench/RESULTS.md: the median of RUNS runs, with the lowest and
highest run beside it, so a reader sees the noise as well as the number."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

RUNS = 5  # every figure is the median of this many runs
Row = tuple[str, str, str, bool | None]
T = TypeVar("T")


def pct(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def spread(values: Sequence[float], digits: int = 1) -> str:
    """'median (min-max)' of the runs' values."""
    return f"{num(statistics.median(values), digits)} ({num(min(values), digits)}-{num(max(values), digits)})"


def percentiles(runs: Sequence[Sequence[float]], digits: int = 1) -> tuple[str, float, float]:
    """Each run's p50 and p99, as 'p50 / p99 ms (p99 min-max)' of their medians, and the two medians."""
    p50 = statistics.median(pct(r, 50) for r in runs)
    p99s = [pct(r, 99) for r in runs]
    p99 = statistics.median(p99s)
    text = f"{num(p50, digits)} / {num(p99, digits)} ms (p99 {num(min(p99s), digits)}-{num(max(p99s), digits)})"
    return text, p50, p99


def repeat(run: Callable[[], T], runs: int = RUNS) -> list[T]:
    return [run() for _ in range(runs)]
