"""When a result is no better than guessing ("at chance"), and the chance level of a training loss.

An evaluation of N videos scored against C classes is *at chance* when its top-1 is not
significantly above guessing: with k = top-1 × N / 100 videos right, the one-sided exact binomial
test against X ~ Bin(N, 1/C) gives P(X >= k) >= ``ALPHA`` (5 %). For example, 4 classes and 8
videos: 4 right (50 %) has P = 0.114, at chance; 5 right (62.5 %) has P = 0.027, not at chance. A
top-1 below 1/C is at chance too (no better than guessing). A run *ends at chance* when each of
its evaluations that scored any video is at chance; a run with no such evaluation is not judged.

A uniform guess over C classes has cross-entropy ln C whatever the targets (one-hot, smoothed or
mixed, they sum to 1): the chance level of a training loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ALPHA = 0.05  # significance level of "above chance"
AT_CHANCE, DIVERGED = "at chance", "diverged"  # how status and the curves mark such runs


def p_above_chance(correct: int, videos: int, classes: int) -> float:
    """P(X >= ``correct``) for X ~ Bin(``videos``, 1 / ``classes``): how likely guessing does at
    least as well. Exact, summed from the tail's end nearest the mode until the terms stop counting;
    plain ``math``, so ``status`` judges every finished run without loading scipy (half a second;
    the tests check this against ``scipy.stats.binom``)."""
    n, p = videos, 1.0 / classes
    if correct <= 0:
        return 1.0
    if correct > n:
        return 0.0
    if correct > n * p:  # above the mean: the upper tail, terms falling from ``correct`` up
        return min(1.0, _tail(correct, n, p, up=True))
    return max(0.0, 1.0 - _tail(correct - 1, n, p, up=False))


def _tail(first: int, n: int, p: float, up: bool) -> float:
    """Sum of the Bin(n, p) probabilities from ``first`` away from the mode, to n or to 0."""
    log_first = (
        math.lgamma(n + 1)
        - math.lgamma(first + 1)
        - math.lgamma(n - first + 1)
        + first * math.log(p)
        + (n - first) * math.log1p(-p)
    )
    total, term, j = 0.0, math.exp(log_first), first
    while term > 0.0 and term >= 1e-17 * total:
        total += term
        term *= (n - j) / (j + 1) * p / (1 - p) if up else j / (n - j + 1) * (1 - p) / p
        j += 1 if up else -1
    return total


def evaluation_at_chance(top1: float, videos: int, classes: int) -> bool:
    """True when ``top1`` (%) on ``videos`` videos over ``classes`` classes is not significantly
    above guessing (False when there is nothing to judge: no video, a single class)."""
    if videos < 1 or classes < 2 or not math.isfinite(top1):
        return False
    correct = round(top1 * videos / 100)
    return p_above_chance(correct, videos, classes) >= ALPHA


def run_at_chance(record: Mapping[str, Any] | None) -> bool:
    """True when every evaluation of ``record`` that scored videos is at chance (each against
    its own class count; records of older omnibench versions: the run's classes)."""
    judged = [
        evaluation_at_chance(
            float(e.get("top1", math.nan)),
            int(e.get("videos", 0)),
            int(e.get("classes") or len((record or {}).get("classes") or ())),
        )
        for e in (record or {}).get("evaluations") or ()
        if int(e.get("videos", 0)) > 0
    ]
    return bool(judged) and all(judged)


def chance_loss(classes: int) -> float | None:
    """Cross-entropy of a uniform guess over ``classes`` classes (ln C); None below 2 classes."""
    return math.log(classes) if classes >= 2 else None
