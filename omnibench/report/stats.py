"""Paired statistics of top-1 on the same test videos: bootstrap intervals of a difference,
McNemar's test.

Inputs are 0/1 correctness vectors of runs over the same videos, grouped into strata (one per
evaluated split). The bootstrap is vectorised numpy: every resample draws each stratum's videos
with replacement (the same draw for every run: the comparison is paired) and, when a table cell
pools several runs (seeds, samplings, splits), also draws that cell's runs with replacement, each
side independently. A run's accuracy is the mean of its strata's accuracies; a cell's is the
mean of its runs'. The interval is the percentile interval of the resampled differences.
McNemar's exact test is the two-sided binomial test (p = 1/2) of the discordant videos, from
scipy's binomial CDF (``scipy.special.bdtr``: ``scipy.stats.binomtest``'s p-value, for many pairs at
once).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

COUNTS_PER_CHUNK = 1 << 22  # resampled video counts held at once (32 MiB of int64)
DRAWN_PER_SLICE = 1 << 19  # drawn runs' accuracies gathered at once (resample_runs)


@dataclasses.dataclass(frozen=True)
class BootstrapSettings:
    """How paired intervals are computed: resamples, the seed of their draws, the coverage."""

    resamples: int = 10_000
    seed: int = 0
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.resamples < 100:
            raise ValueError(f"bootstrap resamples must be >= 100, got {self.resamples}")
        if not 0 < self.level < 1:
            raise ValueError(f"bootstrap level must be in (0, 1), got {self.level}")


def rng_for(settings: BootstrapSettings, *names: str) -> np.random.Generator:
    """A generator seeded by the settings and stable names (a stratum, a cell), not by call
    order."""
    return np.random.default_rng([settings.seed, *(zlib.crc32(n.encode()) for n in names)])


def resampled_means(
    correct: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    dtype: Any = np.float64,
    by_resample: bool = False,
) -> np.ndarray:
    """(runs, resamples) accuracies (0-1) of each run on videos drawn with replacement, the same
    draw for all runs; (resamples, runs) when ``by_resample``. Each is a count of right videos over
    the videos in float32, exact whatever the runs (an integer below 2^24): ``dtype`` float32
    holds the same numbers in half the memory."""
    runs, videos = correct.shape
    values = correct.astype(np.float32)
    out = np.empty((resamples, runs) if by_resample else (runs, resamples), dtype=dtype)
    chunk = max(1, COUNTS_PER_CHUNK // max(videos, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        # int32 draws are the int64 ones (numpy draws both 32 bits at a time below 2^32), faster
        draws = rng.integers(videos, size=(size, videos), dtype=np.int32)
        draws = draws + videos * np.arange(size)[:, None]
        counts = (
            np.bincount(draws.ravel(), minlength=size * videos)
            .reshape(size, videos)
            .astype(np.float32)
        )
        block = counts @ values.T  # (resamples, runs): BLAS without a transposed copy
        block /= videos
        if by_resample:
            out[start : start + size] = block
        else:
            out[:, start : start + size] = block.T
    return out


def resample_runs(
    accuracy: np.ndarray, rng: np.random.Generator, by_resample: bool = False
) -> np.ndarray:
    """(resamples,) cell means (float64): each resample averages ``runs`` runs drawn with
    replacement from ``accuracy`` (runs, resamples; (resamples, runs) when ``by_resample``).

    The drawn runs are summed in the order of the draws, as numpy's mean over them would; they are
    gathered a slice of resamples at a time, so no (runs, resamples) copy is made."""
    table = accuracy if by_resample else accuracy.T  # (resamples, runs)
    resamples, runs = table.shape
    picks = rng.integers(runs, size=(runs, resamples), dtype=np.int32)  # = the int64 draws
    flat = np.ascontiguousarray(table).ravel()
    means = np.empty(resamples)
    step = max(1, DRAWN_PER_SLICE // runs)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        drawn = np.take(flat, picks[:, start:stop] + runs * np.arange(start, stop))
        means[start:stop] = np.add.reduce(drawn, dtype=np.float64) / runs  # over the draws
    return means


def percentile_interval(differences: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of resampled differences."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low) + 0.0, float(high) + 0.0  # + 0.0: no negative zero


def mcnemar_p(a: np.ndarray, b: np.ndarray) -> float:
    """McNemar's exact two-sided p-value for paired 0/1 outcomes of two runs on the same videos."""
    return float(mcnemar_pvalues([(a, b)])[0])


def mcnemar_pvalues(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """McNemar's exact test for each pair: two-sided binomial test (p = 1/2) of the videos only one
    run gets right."""
    # the binomial CDF of scipy.stats.binom, without its 0.5 s import
    from scipy.special import bdtr  # noqa: PLC0415

    only_a = np.array([np.count_nonzero(a & ~b) for a, b in pairs])
    only_b = np.array([np.count_nonzero(~a & b) for a, b in pairs])
    return np.minimum(1.0, 2 * bdtr(np.minimum(only_a, only_b), only_a + only_b, 0.5))


def paired_pvalue(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The largest McNemar p-value over pairs of runs (each pair on its shared videos); None without
    pairs.

    With several pairs (seeds) the largest p-value is what "the difference shows in every pair"
    can claim (an intersection-union test).
    """
    return float(mcnemar_pvalues(pairs).max()) if pairs else None
