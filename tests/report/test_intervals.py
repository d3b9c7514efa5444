"""report/stats.py's pieces by hand: the percentile interval's tails, the resampled draws, the
bootstrap settings it refuses; report/paired.py's columns: shared videos, splits averaged per
resample, seed pairing, a Δ and its McNemar p-value; its Δ rows from a done frame and
predictions.csv files (runs paired by seeds, notes on columns without an interval, where a Δ row
goes)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnibench.report import cells as C
from omnibench.report import paired, stats
from omnibench.report.predictions import Outcome
from omnibench.report.published import Stat
from omnibench.report.records import SuiteRuns
from omnibench.report.tables import DELTA, MEASURED, PUBLISHED, Row
from omnibench.store.run_files import PREDICTIONS_FILE
from omnibench.suite.load import TableSpec


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


def test_a_run_on_two_splits_averages_its_splits_on_each_resample() -> None:
    """A cell pooling two test splits of 5 videos: run a evaluated both, run b the first only.
    On every resample a's accuracy is the mean of its two splits' resampled accuracies, b's that of
    its one split on the same draw of split 1's videos as a; each split's videos are drawn from
    the stream named by the column and the split (not one draw reused for both splits)."""
    settings = stats.BootstrapSettings(resamples=200, seed=3)
    s1, s2 = ("d", "test1"), ("d", "test2")
    a1, b1 = np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 0, 0, 0], bool)
    a2 = np.array([0, 1, 1, 0, 0], bool)
    column = paired.Column(
        aligned={"a": {s2: a2, s1: a1}, "b": {s1: b1}},
        strata=[(s2, {"a"}), (s1, {"a", "b"})],
        draws=("col", settings),
    )
    split1 = stats.resampled_means(np.stack([a1, b1]), 200, stats.rng_for(settings, "col", *s1))
    split2 = stats.resampled_means(a2[None], 200, stats.rng_for(settings, "col", *s2))[0]
    np.testing.assert_allclose(split1 * 5, np.round(split1 * 5), atol=1e-5)  # k of 5 right
    expected = np.stack([(split1[0] + split2) / 2, split1[1]], axis=1)  # (resamples, runs)
    np.testing.assert_allclose(column.accuracies(["a", "b"]), expected, rtol=1e-6)
    np.testing.assert_allclose(column.accuracies(["b"]), expected[:, 1:], rtol=1e-6)
    np.testing.assert_allclose(column.accuracies(["a"]), expected[:, :1], rtol=1e-6)


def test_a_columns_accuracies_are_float32_counts_and_a_runs_splits_average_in_float64() -> None:
    """Split 1 has 3 videos (a gets 1 right, b 2), split 2 one video a gets right. On split 1
    alone every resampled accuracy is k/3, held in float32 (10 000 resamples of thousands of
    runs: half the memory of float64), and so are those of runs evaluated on one split each. A
    run on both splits averages them in float64: each of a's values is (k/3 + 1) / 2 from
    float32's k/3, (1/3 + 1) / 2 = 0.666666671633... where a float32 mean gives 0.666666686..."""
    settings = stats.BootstrapSettings(resamples=200)
    s1, s2 = ("d", "test1"), ("d", "test2")
    a1, b1, a2 = np.array([1, 0, 0], bool), np.array([1, 1, 0], bool), np.array([1], bool)
    thirds = {float(np.float32(k / 3)) for k in range(4)}
    one_split = paired.Column(
        aligned={"a": {s1: a1}, "b": {s1: b1}}, strata=[(s1, {"a", "b"})], draws=("c", settings)
    )
    kept = one_split.accuracies(["a", "b"])
    assert (kept.dtype, kept.shape) == (np.float32, (200, 2))
    assert set(kept.ravel().tolist()) <= thirds
    apart = paired.Column(
        aligned={"a": {s1: a1}, "b": {s2: a2}},
        strata=[(s1, {"a"}), (s2, {"b"})],
        draws=("c", settings),
    )
    assert apart.accuracies(["a", "b"]).dtype == np.float32  # one evaluation each: as drawn
    two_splits = paired.Column(
        aligned={"a": {s1: a1, s2: a2}, "b": {s1: b1}},
        strata=[(s1, {"a", "b"}), (s2, {"a"})],
        draws=("c", settings),
    )
    averaged = set(two_splits.accuracies(["a", "b"])[:, 0].tolist())
    assert averaged <= {(k + 1.0) / 2 for k in thirds}
    assert (float(np.float32(1 / 3)) + 1.0) / 2 in averaged


def _outcome(index: list[int], correct: list[int]) -> Outcome:
    return Outcome(np.array(index), np.zeros(len(index), int), np.array(correct, bool))


def test_a_column_counts_the_videos_every_run_evaluated_and_averages_a_runs_splits() -> None:
    """Split 1: run a evaluated videos 0-3, run b (one broken video) videos 1-4: both count 1-3
    only (a 2/3, b 1/3). Split 2 (a alone, 1 of 2 right): a's accuracy is (2/3 + 1/2) / 2."""
    s1, s2 = ("d", "test1"), ("d", "test2")
    outcomes = {
        "a": {s1: _outcome([0, 1, 2, 3], [1, 1, 0, 1]), s2: _outcome([0, 1], [0, 1])},
        "b": {s1: _outcome([1, 2, 3, 4], [0, 0, 1, 1])},
    }
    column = paired.resample_column(outcomes, "col", stats.BootstrapSettings(resamples=100))
    assert column.problem is None
    assert column.observed == pytest.approx({"a": (2 / 3 + 1 / 2) / 2, "b": 1 / 3})
    np.testing.assert_array_equal(column.aligned["a"][s1], [1, 0, 1])
    np.testing.assert_array_equal(column.aligned["b"][s1], [0, 0, 1])
    assert column.strata == [(s1, {"a", "b"}), (s2, {"a"})]
    disjoint = {"a": {s1: _outcome([0, 1], [1, 1])}, "b": {s1: _outcome([2, 3], [1, 0])}}
    observed = paired.resample_column(disjoint, "col", stats.BootstrapSettings()).observed
    assert math.isnan(observed["a"]) and math.isnan(observed["b"])  # no video in common


def test_runs_are_paired_by_seeds_first_then_in_order() -> None:
    """Row runs r1..r4 against reference q1..q3: r1 and r2 meet the reference runs of their seeds
    (q2, q1); r3 and r4 have none, r3 takes the first reference run left (q3), r4 none is left."""
    identity = {"r1": (1, 0), "r2": (2, 0), "r3": (9, 0), "r4": (8, 0)}
    identity |= {"q1": (2, 0), "q2": (1, 0), "q3": (3, 0)}
    pairs = paired.run_pairs(["r1", "r2", "r3", "r4"], ["q1", "q2", "q3"], identity)
    assert pairs == [("r1", "q2"), ("r2", "q1"), ("r3", "q3")]
    assert paired.run_pairs(["r3", "r1"], ["q2", "q3"], identity) == [("r1", "q2"), ("r3", "q3")]


def test_resampled_runs_gather_the_drawn_runs_of_each_resample_in_every_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three runs whose accuracy differs on every resample: resample r's cell mean is the mean of
    the drawn runs' accuracies on resample r, also when gathered two resamples at a time."""
    accuracy = np.arange(21, dtype=float).reshape(3, 7) / 20  # (runs, resamples)
    picks = np.random.default_rng(5).integers(0, 3, size=(3, 7))
    expected = accuracy[picks, np.arange(7)].mean(axis=0)
    np.testing.assert_allclose(stats.resample_runs(accuracy, np.random.default_rng(5)), expected)
    monkeypatch.setattr(stats, "DRAWN_PER_SLICE", 6)
    got = stats.resample_runs(accuracy.T.copy(), np.random.default_rng(5), by_resample=True)
    np.testing.assert_allclose(got, expected)


def test_a_row_right_on_every_video_the_reference_gets_wrong() -> None:
    """4 videos, row run a right on all, reference run b on none: Δ = +100 points on every
    resample, so the interval is [100, 100]; McNemar: 4 discordant videos all one way,
    p = 2 * (1/2)^4 = 0.125. A row without runs in the column has no Δ."""
    s1 = ("d", "test1")
    outcomes = {
        "a": {s1: _outcome([0, 1, 2, 3], [1] * 4)},
        "b": {s1: _outcome([0, 1, 2, 3], [0] * 4)},
    }
    settings = stats.BootstrapSettings(resamples=100)
    column = paired.resample_column(outcomes, "col", settings)
    draws = stats.resample_runs(column.accuracies(["b"]), np.random.default_rng(0), True)
    stat = paired.compare(column, ["a"], ["b"], {}, (draws, np.random.default_rng(1)), settings)
    assert stat is not None
    assert (stat.mean, stat.n, stat.low, stat.high) == (100.0, 1, 100.0, 100.0)
    assert stat.p_value == pytest.approx(0.125)
    assert (
        paired.compare(column, ["x"], ["b"], {}, (draws, np.random.default_rng(1)), settings)
        is None
    )
    apart = {"a": {s1: _outcome([0, 1], [1, 0])}, "b": {("d", "test2"): _outcome([0, 1], [1, 1])}}
    column = paired.resample_column(apart, "col", settings)
    draws = stats.resample_runs(column.accuracies(["b"]), np.random.default_rng(0), True)
    stat = paired.compare(column, ["a"], ["b"], {}, (draws, np.random.default_rng(1)), settings)
    assert stat is not None and stat.mean == -50.0
    assert stat.p_value is None  # no video both runs evaluated: no McNemar test


RATIO = "model.options.ratio"
HALF, QUARTER = C.reference_key({RATIO: 0.5}, [RATIO]), C.reference_key({RATIO: 0.25}, [RATIO])
HMDB = ("hmdb51",)


def _run_dirs(tmp_path: Path, correct: dict[str, list[int]]) -> dict[str, Path]:
    """A folder per run; a run given videos writes predictions.csv (hmdb51 test1, label 0)."""
    dirs = {}
    for run, right in correct.items():
        dirs[run] = tmp_path / run
        dirs[run].mkdir()
        lines = [f"hmdb51,test1,{i},0,{bool(r)}," for i, r in enumerate(right)]
        if lines:
            text = "\n".join(["dataset,split,index,label,correct,broken", *lines, ""])
            (dirs[run] / PREDICTIONS_FILE).write_text(text)
    return dirs


def _done(ratios: dict[str, float], **extra: list[object]) -> pd.DataFrame:
    """A done frame: each run's id and ratio, on hmdb51, seeds 0 (``extra``: more or other
    columns)."""
    zeros = [0] * len(ratios)
    frame = {"run_id": list(ratios), RATIO: list(ratios.values()), "seed": zeros}
    return pd.DataFrame({**frame, "data_seed": zeros, "dataset": ["hmdb51"] * len(ratios), **extra})


def _deltas(
    done: pd.DataFrame, dirs: dict[str, Path], columns: list[C.Key], col_paths: tuple[str, ...]
) -> tuple[dict[C.Key, dict[C.Key, Stat]], list[str]]:
    """The Δ of every ratio to the reference 1/4, and the notes."""
    settings = stats.BootstrapSettings(resamples=200)
    return paired.reference_deltas(done, dirs, [RATIO], col_paths, columns, QUARTER, settings)


SWAPPED = {"r1": [1] * 6, "r2": [0] * 6, "q1": [1] * 6, "q2": [0] * 6}
SWAPPED_RATIOS = {"r1": 0.5, "r2": 0.5, "q1": 0.25, "q2": 0.25}


@pytest.mark.parametrize("seeds", ["seed", "data_seed"])
def test_a_delta_pairs_each_run_with_the_reference_run_of_its_seeds(
    tmp_path: Path, seeds: str
) -> None:
    """Ratio 1/2's runs r1 (seeds 1), r2 (seeds 2) against the reference 1/4's q1 (seeds 2), q2
    (seeds 1), listed in that order; 6 videos, r1 and q1 right on all, r2 and q2 on none. Paired by
    seeds, (r1, q2) and (r2, q1) each have 6 videos only one run gets right: McNemar p = 2 · 2⁻⁶ =
    1/32 for both. Paired in list order, (r1, q1) and (r2, q2) would agree on every video: p = 1.
    Either way Δ = 50 − 50 = 0 over 2 runs. The seeds differ in ``seed`` or in ``data_seed``."""
    done = _done(SWAPPED_RATIOS, **{seeds: [1, 2, 2, 1]})
    out, notes = _deltas(done, _run_dirs(tmp_path, SWAPPED), [HMDB], ("dataset",))
    stat = out[HALF][HMDB]
    assert (stat.mean, stat.n, stat.p_value) == (0.0, 2, pytest.approx(1 / 32))
    assert notes == []


def test_runs_without_seeds_pair_in_order_and_runs_without_ids_have_no_delta(
    tmp_path: Path,
) -> None:
    """The runs of the test above in a done frame without ``seed`` and ``data_seed`` columns:
    paired in list order, (r1, q1) and (r2, q2) agree on every video, p = 1. Without ``run_id`` no
    run is known: no Δ and no note."""
    dirs = _run_dirs(tmp_path, SWAPPED)
    done = _done(SWAPPED_RATIOS, seed=[1, 2, 2, 1])
    out, notes = _deltas(done.drop(columns=["seed", "data_seed"]), dirs, [HMDB], ("dataset",))
    assert (out[HALF][HMDB].mean, out[HALF][HMDB].p_value, notes) == (0.0, 1.0, [])
    assert _deltas(done.drop(columns="run_id"), dirs, [HMDB], ("dataset",)) == ({}, [])


def test_columns_without_predictions_are_named_in_one_note(tmp_path: Path) -> None:
    """Columns (hmdb51, K): K=2 and K=4 have runs without predictions.csv, K=8 has a 1/2 run right
    on 2 of 4 videos and a reference run right on none: Δ = +50 points, McNemar p = 2 · 2⁻² = 0.5,
    and one note names both columns without an interval."""
    dirs = _run_dirs(tmp_path, {"a2": [], "b2": [], "a4": [], "b4": [], "a8": [1, 1, 0, 0]})
    dirs |= _run_dirs(tmp_path, {"b8": [0, 0, 0, 0]})
    ratios = {f"{r}{k}": 0.5 if r == "a" else 0.25 for k in (2, 4, 8) for r in "ab"}
    done = _done(ratios, **{"protocol_options.shots": [2, 2, 4, 4, 8, 8]})
    columns = [("hmdb51", 2), ("hmdb51", 4), ("hmdb51", 8)]
    out, notes = _deltas(done, dirs, columns, ("dataset", "protocol_options.shots"))
    assert list(out) == [HALF] and list(out[HALF]) == [("hmdb51", 8)]
    stat = out[HALF][("hmdb51", 8)]
    assert (stat.mean, stat.n, stat.p_value) == (50.0, 1, pytest.approx(0.5))
    assert notes == ["no interval in hmdb51, 2; hmdb51, 4: no predictions.csv."]


def _with_deltas(rows: list[Row], reference: float) -> tuple[list[Row], list[str]]:
    """``with_reference_deltas`` of ``rows`` for measured OmniCLIP (ratio 1/2, 60.0 on hmdb51) and
    X-CLIP (1/4, 55.0), no finished runs; the suite's reference is ratio ``reference``."""
    cell = (HMDB, "top1")
    measured = [
        C.MeasuredRow(HALF, "OmniCLIP", {cell: Stat(60.0)}),
        C.MeasuredRow(QUARTER, "X-CLIP", {cell: Stat(55.0)}),
    ]
    spec = TableSpec(
        "t", "T", "grid", (RATIO,), ("dataset",), ("top1",), reference={RATIO: reference}
    )
    runs = SuiteRuns("suite", (), {}, ())
    return paired.with_reference_deltas(
        rows, measured, spec, runs, (pd.DataFrame(), [HMDB]), stats.BootstrapSettings()
    )


def test_a_delta_row_follows_its_methods_measured_and_delta_rows_only() -> None:
    """The paper's OmniCLIP in two groups, ours matching the first, then X-CLIP (the reference):
    OmniCLIP's "Δ vs X-CLIP" (60.0 − 55.0 = +5.0) goes after its measured row and its Δ to the
    paper, before the paper's second OmniCLIP row. A reference no measured row has: no Δ rows."""
    rows = [
        Row("OmniCLIP", "paper", PUBLISHED, {}, group="B/16"),
        Row("OmniCLIP", "omnibench", MEASURED, {}),
        Row("OmniCLIP", "Δ vs paper", DELTA, {}),
        Row("OmniCLIP", "paper", PUBLISHED, {}, group="B/32"),
        Row("X-CLIP", "omnibench", MEASURED, {}),
    ]
    placed, notes = _with_deltas(rows, 0.25)
    assert [(r.source, r.group) for r in placed] == [
        ("paper", "B/16"),
        ("omnibench", ""),
        ("Δ vs paper", ""),
        ("Δ vs X-CLIP", ""),
        ("paper", "B/32"),
        ("omnibench", ""),
    ]
    assert (placed[3].method, placed[3].kind, placed[3].cells) == (
        "OmniCLIP",
        DELTA,
        {(HMDB, "top1"): Stat(5.0, None, 1)},
    )
    assert notes == [paired.reference_note("X-CLIP", stats.BootstrapSettings())]
    assert _with_deltas(rows, 0.125) == (rows, [])
