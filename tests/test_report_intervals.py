"""report/stats.py's pieces by hand: the percentile interval's tails, the resampled draws, the
bootstrap settings it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omnibench.report import stats


def test_the_percentile_interval_cuts_half_the_rest_from_each_tail() -> None:
    """0..100: a 90 % interval is [5, 95], a 50 % one [25, 75]; an interval of zeros is +0.0
    (no "-0.0" in a table)."""
    values = np.arange(101, dtype=float)
    assert stats.percentile_interval(values, 0.9) == pytest.approx((5.0, 95.0))
    assert stats.percentile_interval(values, 0.5) == pytest.approx((25.0, 75.0))
    low, high = stats.percentile_interval(np.array([-0.0]), 0.95)  # numpy: (-0.0, -0.0)
    assert math.copysign(1, low) == math.copysign(1, high) == 1.0


def test_each_resample_draws_every_video_once_with_replacement_for_all_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Resample r of run k is run k's mean over the videos of draw r: the same draw for every run,
    and the same draws in one chunk or many."""
    correct = np.array([[1, 0, 0, 1, 1], [0, 0, 1, 1, 0]], dtype=bool)
    draws = np.random.default_rng(7).integers(0, 5, size=(40, 5))
    expected = correct[:, draws].mean(axis=2)  # (runs, resamples)
    got = stats.resampled_means(correct, 40, np.random.default_rng(7))
    np.testing.assert_allclose(got, expected)
    assert got.shape == (2, 40)
    monkeypatch.setattr(stats, "COUNTS_PER_CHUNK", 15)  # 3 resamples of 5 videos at a time
    np.testing.assert_allclose(
        stats.resampled_means(correct, 40, np.random.default_rng(7)), expected
    )


def test_resampled_runs_average_runs_drawn_with_replacement() -> None:
    """Two runs at 0.2 and 0.6: each resampled cell mean is 0.2, 0.4 or 0.6, that of the drawn
    pair; one run is its own mean."""
    accuracy = np.array([[0.2] * 6, [0.6] * 6])
    picks = np.random.default_rng(3).integers(0, 2, size=(2, 6))
    expected = accuracy[picks, np.arange(6)].mean(axis=0)
    np.testing.assert_allclose(stats.resample_runs(accuracy, np.random.default_rng(3)), expected)
    np.testing.assert_allclose(stats.resample_runs(accuracy[:1], np.random.default_rng(3)), 0.2)


def test_bootstrap_settings_refuse_too_few_resamples_and_a_level_outside_0_1() -> None:
    assert stats.BootstrapSettings(resamples=100, level=0.5).resamples == 100
    with pytest.raises(ValueError, match=r"^bootstrap resamples must be >= 100, got 99$"):
        stats.BootstrapSettings(resamples=99)
    for level in (0.0, 1.0):
        with pytest.raises(
            ValueError, match=rf"^bootstrap level must be in \(0, 1\), got {level}$"
        ):
            stats.BootstrapSettings(level=level)


def test_streams_are_named_not_ordered() -> None:
    """The stream of a stratum depends on the settings' seed and its name, not on call order."""
    settings = stats.BootstrapSettings(seed=4)
    first = stats.rng_for(settings, "hmdb51/test1").random(3)
    stats.rng_for(settings, "other").random(3)
    np.testing.assert_array_equal(stats.rng_for(settings, "hmdb51/test1").random(3), first)
    assert not np.array_equal(stats.rng_for(settings, "hmdb51/test2").random(3), first)
    other_seed = stats.rng_for(stats.BootstrapSettings(seed=5), "hmdb51/test1").random(3)
    assert not np.array_equal(other_seed, first)
