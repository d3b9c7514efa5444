"""Paired statistics against known cases: bootstrap intervals of top-1 differences, McNemar's exact
test, and the "Δ vs reference" rows they fill, from run records and predictions.csv files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from omnibench.report import stats
from omnibench.report.build import build_tables
from omnibench.report.predictions import read_outcomes
from omnibench.report.published import Stat
from omnibench.report.records import SuiteRuns
from omnibench.report.tables import DELTA, MEASURED, ReportTable, format_stat
from omnibench.store.run_files import PREDICTIONS_FILE
from omnibench.suite.load import TableSpec, load_suite
from tests.report_fixtures import make_record, paper_spec

SETTINGS = stats.BootstrapSettings(resamples=4000, seed=0)
RATIO_TABLE = TableSpec(
    "table8",
    "Ratio",
    "grid",
    ("model.options.ratio",),
    ("dataset",),
    ("top1",),
    reference={"model.options.ratio": 0.25},
)


def outcomes(n: int, correct: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` videos, exactly ``correct`` of them right, in random order."""
    values = np.zeros(n, bool)
    values[rng.choice(n, correct, replace=False)] = True
    return values


def interval(
    row: list[np.ndarray], reference: list[np.ndarray], settings: stats.BootstrapSettings = SETTINGS
) -> tuple[float, float]:
    """The paired interval (percentage points) of mean(row runs) − mean(reference runs), as the
    report computes it."""
    both = stats.resampled_means(
        np.stack([*row, *reference]), settings.resamples, stats.rng_for(settings, "test")
    )
    rng = stats.rng_for(settings, "runs")
    differences = stats.resample_runs(both[: len(row)], rng) - stats.resample_runs(
        both[len(row) :], rng
    )
    return stats.percentile_interval(100 * differences, settings.level)


def test_identical_predictions_give_a_zero_interval() -> None:
    a = outcomes(300, 200, np.random.default_rng(1))
    assert interval([a], [a.copy()]) == (0.0, 0.0)
    assert Stat(0.0, low=0.0, high=0.0).within_noise


def test_a_large_clean_difference_excludes_zero() -> None:
    rng = np.random.default_rng(2)
    low, high = interval([outcomes(200, 180, rng)], [outcomes(200, 20, rng)])  # 90 % vs 10 %
    assert 70 < low < 80 < high < 90
    assert not Stat(80.0, low=low, high=high).within_noise


def test_the_interval_matches_the_paired_normal_approximation_and_scipy() -> None:
    """Correlated runs (they agree on most videos): the paired interval is mean ± 1.96 sd(d)/√N, far
    narrower than resampling each run on its own draw of videos would give."""
    rng = np.random.default_rng(3)
    b = outcomes(2000, 1400, rng)
    a = b.copy()
    flip = rng.choice(2000, 120, replace=False)
    a[flip[:80]] = True  # 80 videos become right ...
    a[flip[80:]] = False  # ... 40 become wrong (some were wrong already)
    d = a.astype(float) - b.astype(float)
    half = 1.959964 * 100 * d.std(ddof=1) / np.sqrt(d.size)
    low, high = interval([a], [b], stats.BootstrapSettings(resamples=10_000))
    assert (low, high) == (
        pytest.approx(100 * d.mean() - half, abs=0.12),
        pytest.approx(100 * d.mean() + half, abs=0.12),
    )
    reference = scipy_stats.bootstrap(
        (a, b),
        lambda x, y, axis: 100 * (x.mean(axis) - y.mean(axis)),
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        method="percentile",
        random_state=0,
    )
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.15)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.15)
    unpaired = 1.959964 * 100 * np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert high - low < 0.5 * 2 * unpaired


def test_the_runs_of_a_cell_are_resampled_too() -> None:
    """Seeds at 60 % and 80 % against two at 70 %: with 10 000 videos the video noise is small, and
    the mean of two seeds drawn with replacement is 60, 70 or 80 with probability 1/4, 1/2, 1/4."""
    rng = np.random.default_rng(4)
    n = 10_000
    row = [outcomes(n, int(0.6 * n), rng), outcomes(n, int(0.8 * n), rng)]
    reference = [outcomes(n, int(0.7 * n), rng), outcomes(n, int(0.7 * n), rng)]
    low, high = interval(row, reference, stats.BootstrapSettings(resamples=2000))
    assert low == pytest.approx(-10, abs=0.8) and high == pytest.approx(10, abs=0.8)
    one_seed_low, one_seed_high = interval(
        row[1:], reference[1:], stats.BootstrapSettings(resamples=2000)
    )  # 80 vs 70: video noise only
    assert one_seed_low > 8 and one_seed_high < 12


def test_the_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(5)
    a, b = outcomes(500, 300, rng), outcomes(500, 280, rng)
    first = interval([a], [b])
    assert interval([a], [b]) == first
    assert interval([a], [b], stats.BootstrapSettings(resamples=4000, seed=1)) != first


def test_resampled_accuracies_are_held_in_the_dtype_asked_for() -> None:
    """float64 unless asked; float32 when the report asks (each value a count of right videos
    over 3, exact in either, in half the memory)."""
    correct = np.array([[1, 0, 1], [0, 0, 1]], dtype=bool)
    assert stats.resampled_means(correct, 100, np.random.default_rng(0)).dtype == np.float64
    kept = stats.resampled_means(correct, 100, np.random.default_rng(0), np.float32, True)
    assert (kept.dtype, kept.shape) == (np.float32, (100, 2))
    assert set(kept.ravel().tolist()) <= {float(np.float32(k / 3)) for k in range(4)}


def test_a_cells_resampled_mean_sums_its_drawn_runs_in_float64() -> None:
    """Two runs at 1/3 and 1 (float32, as the report holds them), 200 resamples: each cell mean is
    1/3, 1 or (1/3 + 1) / 2 = 0.666666671633... in float64 (float32 would give 0.666666686...)."""
    third = float(np.float32(1 / 3))
    accuracy = np.array([[third] * 200, [1.0] * 200], dtype=np.float32)  # (runs, resamples)
    means = stats.resample_runs(accuracy, np.random.default_rng(0))
    assert set(means.tolist()) == {third, 1.0, (third + 1.0) / 2}


def test_mcnemar_exact_p_value_by_hand() -> None:
    """1 video only A gets right, 7 only B: p = 2 · P(X ≤ 1), X ~ Bin(8, 1/2) = 2 · 9 / 256."""
    a = np.array([True] * 1 + [False] * 7 + [True] * 50 + [False] * 20)
    b = np.array([False] * 1 + [True] * 7 + [True] * 50 + [False] * 20)
    assert stats.mcnemar_p(a, b) == pytest.approx(18 / 256)
    assert stats.mcnemar_p(b, a) == pytest.approx(18 / 256)
    assert stats.mcnemar_p(a, a) == 1.0  # no discordant video
    assert stats.paired_pvalue([(a, b), (a, a)]) == 1.0  # the largest over pairs of seeds
    assert stats.paired_pvalue([]) is None
    rng = np.random.default_rng(8)
    for _ in range(20):  # the same p-value as scipy's binomial test, whatever the discordant counts
        x, y = rng.random(60) < rng.random(), rng.random(60) < rng.random()
        only_x, only_y = int((x & ~y).sum()), int((~x & y).sum())
        expected = scipy_stats.binomtest(only_x, only_x + only_y).pvalue if only_x + only_y else 1.0
        assert stats.mcnemar_p(x, y) == pytest.approx(expected, rel=1e-9)


def test_delta_text_marks_an_interval_that_contains_zero() -> None:
    assert (
        format_stat(Stat(0.36, low=-0.214, high=0.93), 2, signed=True) == "+0.36 [−0.21, +0.93] ≈"
    )
    assert format_stat(Stat(-3.1, low=-4.0, high=-2.2), 1, signed=True) == "−3.1 [−4.0, −2.2]"
    assert format_stat(Stat(0.0, low=-0.0, high=0.0), 2, signed=True) == "+0.00 [+0.00, +0.00] ≈"


def write_predictions(
    run_dir: Path,
    correct: np.ndarray,
    labels: np.ndarray | None = None,
    broken: set[int] = frozenset(),
    split: str = "test1",
) -> None:
    """A predictions.csv as the runner writes it (broken videos: pred -1, a reason)."""
    labels = np.arange(correct.size) % 4 if labels is None else labels
    rows = [
        {
            "dataset": "hmdb51",
            "split": split,
            "index": i,
            "path": f"v{i}.avi",
            "label": int(labels[i]),
            "pred": -1 if i in broken else int(labels[i]) if ok else (int(labels[i]) + 1) % 4,
            "correct": bool(ok) and i not in broken,
            "broken": "cannot decode" if i in broken else "",
        }
        for i, ok in enumerate(correct)
    ]
    run_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(run_dir / PREDICTIONS_FILE, index=False)


def ratio_runs(
    tmp_path: Path,
    plan: dict[tuple[float, int], np.ndarray],
    broken: dict[tuple[float, int], set[int]] | None = None,
) -> SuiteRuns:
    """Finished ratio-ablation runs on HMDB51: (ratio, seed) -> each video's correctness."""
    specs, records, run_dirs = [], [], {}
    for (ratio, seed), correct in plan.items():
        spec = paper_spec(
            {
                "protocol": "supervised",
                "dataset": "hmdb51",
                "seed": seed,
                "model": {"name": "omniclip", "options": {"ratio": ratio}},
            }
        )
        skipped = (broken or {}).get((ratio, seed), set())
        kept = [ok for i, ok in enumerate(correct) if i not in skipped]
        records.append(
            make_record(spec, "ratio", {"top1": 100 * float(np.mean(kept)), "top5": 99.0})
        )
        run_dirs[spec.run_id()] = tmp_path / spec.run_id()
        write_predictions(run_dirs[spec.run_id()], correct, broken=skipped)
        specs.append(spec)
    return SuiteRuns(
        "ratio",
        tuple(s.to_dict() for s in specs),
        {s.run_id(): "done" for s in specs},
        tuple(records),
        run_dirs=run_dirs,
    )


def delta_row(table: ReportTable, method: str):  # noqa: ANN201
    [row] = [
        r for r in table.rows if r.method == method and r.kind == DELTA and r.source == "Δ vs 1/4"
    ]
    return row


def test_reference_rows_in_an_ablation_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    best = outcomes(400, 300, rng)
    plan = {
        (0.25, 0): best,
        (0.25, 1): best.copy(),
        (0.5, 0): best.copy(),
        (0.5, 1): best.copy(),
        (1.0, 0): outcomes(400, 120, rng),
        (0.125, 0): outcomes(400, 300, rng),
    }
    [table] = build_tables(RATIO_TABLE, ratio_runs(tmp_path, plan), SETTINGS)
    order = [(r.method, r.source) for r in table.rows if r.kind in (MEASURED, DELTA)]
    at = order.index(("1/2", "omnibench"))
    assert order[at + 1 : at + 3] == [
        ("1/2", "Δ vs OmniCLIP T8"),
        ("1/2", "Δ vs 1/4"),
    ]  # after its Δ to the paper
    assert not [
        r for r in table.rows if r.method == "1/4" and r.source == "Δ vs 1/4"
    ]  # the reference itself
    column = table.columns[0]
    assert table.text(delta_row(table, "1/2"), column) == "+0.00 [+0.00, +0.00] ≈"
    strong = delta_row(table, "1").cells[(column.key, "top1")]
    assert (
        strong.mean == pytest.approx(30.0 - 75.0) and strong.high < -35 and not strong.within_noise
    )
    assert strong.p_value < 1e-20 and strong.n == 1
    same_rate = delta_row(table, "1/8").cells[
        (column.key, "top1")
    ]  # 75 % on other videos: within noise
    assert (
        same_rate.mean == pytest.approx(0.0) and same_rate.within_noise and same_rate.p_value > 0.05
    )
    assert (
        table.text(next(r for r in table.rows if r.method == "1/4" and r.kind == MEASURED), column)
        == "75.00 ± 0.00"
    )
    assert any(
        note.startswith("Δ vs 1/4: top-1 minus the reference row's (1/4)") for note in table.notes
    )
    tidy = table.tidy()
    line = tidy[(tidy["method"] == "1") & (tidy["source"] == "Δ vs 1/4")].iloc[0]
    assert (line["mean"], line["within_noise"]) == (pytest.approx(-45.0), False)
    assert line["ci_low"] < line["ci_high"] < -35 and line["p_value"] == pytest.approx(
        strong.p_value
    )


def test_broken_videos_leave_both_sides_and_other_lists_get_no_interval(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    a = outcomes(100, 50, rng)
    b = a.copy()
    b[:10] = ~a[:10]  # the two runs differ only on videos 0-9 ...
    runs = ratio_runs(
        tmp_path, {(0.25, 0): a, (0.5, 0): b}, broken={(0.5, 0): set(range(10))}
    )  # ... which 1/2 skipped
    [table] = build_tables(RATIO_TABLE, runs, SETTINGS)
    stat = delta_row(table, "1/2").cells[(table.columns[0].key, "top1")]
    assert (stat.mean, stat.low, stat.high, stat.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert read_outcomes(tmp_path / "missing") is None
    other = runs.run_dirs[next(iter(runs.run_dirs))]
    write_predictions(other, a, labels=np.arange(100) % 3)  # the reference evaluated another list
    [table] = build_tables(RATIO_TABLE, runs, SETTINGS)
    assert (
        delta_row(table, "1/2").cells[(table.columns[0].key, "top1")].low is None
    )  # a plain Δ, no interval
    assert any(
        "no interval in hmdb51: hmdb51/test1: runs give one video different labels" in n
        for n in table.notes
    )


def test_the_demo_runs_two_seeds_of_its_omniclip_rows_and_reports_them(tmp_path: Path) -> None:
    """make demo's table: OmniCLIP rows as mean ± std over two seeds, every other row's Δ to
    OmniCLIP with an interval (within noise or not)."""
    suite = load_suite("demo")
    seeds: dict[tuple[str, str, str], list[int]] = {}
    for spec in suite.specs:
        seeds.setdefault(
            (spec.protocol, spec.model.name, repr(dict(spec.model.options))), []
        ).append(spec.seed)
    assert {k: v for k, v in seeds.items() if k[1] == "omniclip"} == {
        ("supervised", "omniclip", "{}"): [1024, 1025],
        ("supervised", "omniclip", "{'use_pta': False}"): [1024, 1025],
        ("few_shot", "omniclip", "{}"): [1024, 1025],
    }
    assert all(v == [1024] for k, v in seeds.items() if k[1] != "omniclip")
    rng = np.random.default_rng(9)
    right = {"omniclip": 90, "xclip": 70, "vificlip": 30, "vanilla_clip": 25}  # of 100 videos
    records, run_dirs = [], {}
    for spec in suite.specs:
        correct = outcomes(
            100, right[spec.model.name] - 10 * (spec.model.options.get("use_pta") is False), rng
        )
        run_dirs[spec.run_id()] = tmp_path / spec.run_id()
        write_predictions(run_dirs[spec.run_id()], correct)
        records.append(make_record(spec, "demo", {"top1": float(correct.mean() * 100)}))
    runs = SuiteRuns(
        "demo",
        tuple(s.to_dict() for s in suite.specs),
        {s.run_id(): "done" for s in suite.specs},
        tuple(records),
        run_dirs=run_dirs,
    )
    [table] = build_tables(suite.table, runs, SETTINGS)
    supervised = next(c for c in table.columns if c.header[0] == "Supervised")
    text = {(r.method, r.source): table.text(r, supervised) for r in table.rows}
    assert text[("OmniCLIP", "omnibench")] == "90.00 ± 0.00" and "n = 2 runs" in table.notes[0]
    assert text[("OmniCLIP PTA ✗", "Δ vs OmniCLIP")].startswith("−10.00 [")
    assert text[("ViFi-CLIP", "Δ vs OmniCLIP")].startswith("−60.00 [") and not text[
        ("ViFi-CLIP", "Δ vs OmniCLIP")
    ].endswith("≈")
    assert ("Vanilla CLIP", "Δ vs OmniCLIP") not in text  # it fills no column OmniCLIP fills
