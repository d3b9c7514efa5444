"""Training curves: what "at chance" means (hand-computed binomial tails), the per-step curve file,
and `omnibench report --curves` / `status` on a store whose curves are written here by hand."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from matplotlib.lines import Line2D

from omnibench.cli import main
from omnibench.report import write_report
from omnibench.report.curve_plots import DPI, WIDTH, curve_figure
from omnibench.report.curves import table_curves
from omnibench.report.plots import method_colors
from omnibench.report.writer import suite_tables
from omnibench.store.chance import evaluation_at_chance, p_above_chance, run_at_chance
from omnibench.store.run_files import RECORD_FILE, TRAIN_STEPS_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.store.train_steps import (
    TrainSteps,
    UnreadableStepsError,
    read_train_steps,
    write_train_steps,
)
from omnibench.suite.load import load_suite
from tests.report_fixtures import make_record

NAN = float("nan")


# --- "at chance" ---------------------------------------------------------------------------


def test_p_above_chance_is_the_exact_binomial_tail() -> None:
    """4 classes, 8 videos: P(X >= 4) = (70*3^4 + 56*3^3 + 28*3^2 + 8*3 + 1) / 4^8 = 7459 / 65536
    and P(X >= 5) = 1789 / 65536; 2 classes: P(X >= 4 of 4) = 1/16, P(X >= 5 of 5) = 1/32."""
    assert p_above_chance(4, 8, 4) == pytest.approx(7459 / 65536, rel=1e-12)
    assert p_above_chance(5, 8, 4) == pytest.approx(1789 / 65536, rel=1e-12)
    assert p_above_chance(4, 4, 2) == pytest.approx(1 / 16, rel=1e-12)
    assert p_above_chance(5, 5, 2) == pytest.approx(1 / 32, rel=1e-12)
    assert p_above_chance(0, 8, 4) == 1.0 and p_above_chance(9, 8, 4) == 0.0


def test_p_above_chance_matches_scipy_from_tiny_to_kinetics_sized_test_sets() -> None:
    from scipy.stats import binom

    rng = np.random.default_rng(0)
    for videos in (1, 7, 128, 1000, 19877):
        for classes in (2, 4, 51, 101, 400):
            mean = videos // classes
            for correct in {0, 1, mean - 2, mean, mean + 1, mean + 9, videos, rng.integers(videos)}:
                if 0 <= correct <= videos:
                    expected = binom.sf(correct - 1, videos, 1 / classes)
                    assert p_above_chance(int(correct), videos, classes) == pytest.approx(
                        expected, abs=1e-9
                    ), (correct, videos, classes)


@pytest.mark.parametrize(
    ("top1", "videos", "classes", "at_chance"),
    [
        (50.0, 8, 4, True),  # 4 of 8 right: P = 0.114, guessing does that often enough
        (62.5, 8, 4, False),  # 5 of 8: P = 0.027 < 5 %
        (0.0, 8, 4, True),  # below chance is no better than guessing
        (100.0, 4, 2, True),  # 4 of 4 with 2 classes: P = 1/16 = 0.0625
        (100.0, 5, 2, False),  # 5 of 5: P = 1/32
        (31.25, 128, 4, True),  # the demo's test set: 40 of 128, P = 0.065
        (32.03125, 128, 4, False),  # 41 of 128, P = 0.044
        (50.0, 0, 4, False),  # nothing evaluated: not judged
        (NAN, 8, 4, False),
    ],
)
def test_evaluation_at_chance(top1: float, videos: int, classes: int, at_chance: bool) -> None:
    assert evaluation_at_chance(top1, videos, classes) is at_chance


def test_a_run_ends_at_chance_when_every_evaluation_with_videos_is() -> None:
    chance = {"top1": 25.0, "videos": 8, "classes": 4}
    learned = {"top1": 75.0, "videos": 8, "classes": 4}
    empty = {"top1": NAN, "videos": 0, "classes": 4}
    assert run_at_chance({"evaluations": [chance, empty]})
    assert not run_at_chance({"evaluations": [chance, learned]})  # base at chance, novel not
    assert not run_at_chance({"evaluations": [empty]}) and not run_at_chance(None)
    # older records: no class count per evaluation, the run's classes stand in
    assert run_at_chance({"classes": list("ab"), "evaluations": [{"top1": 75.0, "videos": 4}]})
    assert not run_at_chance({"classes": list("abcd"), "evaluations": [{"top1": 75, "videos": 8}]})


# --- the per-step curve file ------------------------------------------------------------------


def test_train_steps_positions_epoch_means_and_divergence(tmp_path: Path) -> None:
    steps = TrainSteps(4, 4, (1, 1, 1, 1, 2, 2), (2.0, 1.0, 1.5, 1.5, 0.5, NAN), (1, 2, 3, 4, 5, 6))
    assert steps.positions() == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]  # epoch 2 unfinished: 2 of 4
    assert steps.epoch_means()[1] == 1.5 and math.isnan(steps.epoch_means()[2])
    assert steps.diverged_at == 6 and steps.epoch_end_steps() == {1: 4, 2: 6}
    write_train_steps(tmp_path / "s.json", steps)
    back = read_train_steps(tmp_path / "s.json")
    assert back is not None and back.epoch == steps.epoch and back.diverged_at == 6
    assert back.loss[:5] == steps.loss[:5] and back.lr == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    assert read_train_steps(tmp_path / "absent.json") is None


def test_a_damaged_curve_file_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / TRAIN_STEPS_FILE
    for text, why in (
        ('{"format": 1, "classes": 4', "not a training curve"),
        ('{"format": 9}', "format 9"),
        (
            '{"format": 1, "classes": 4, "steps_per_epoch": 2, "epoch": [1], "loss": [], "lr": []}',
            "differ in length",
        ),
    ):
        path.write_text(text)
        with pytest.raises(UnreadableStepsError, match=why) as caught:
            read_train_steps(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# --- report --curves and status on a hand-written store -----------------------------------------

SUITE = """name: curves_mini
description: test suite
table: {paper_table: null, title: Curves, layout: grid, rows: [model.name], columns: [dataset],
        metrics: [top1]}
base: {protocol: supervised, dataset: hmdb51}
grid:
  - {model.name: [omniclip], dataset: [hmdb51], seed: [0, 1]}
  - {model.name: [xclip], dataset: [hmdb51, ucf101]}
  - {model.name: [omniclip], dataset: [ucf101]}
"""
CURVES = {  # (model, dataset, seed) -> losses of 2 epochs x 2 steps
    ("omniclip", "hmdb51", 0): (2.0, 1.0, 0.8, 0.6),
    ("omniclip", "hmdb51", 1): (3.0, 2.0, 1.0, 0.4),
    ("xclip", "hmdb51", 1024): (1.5, NAN, NAN, NAN),  # diverged at step 2: failed, no record
    ("xclip", "ucf101", 1024): (1.4, 1.39, 1.38, 1.386),  # finished at chance: 2 of 8 right
}


def _run_id(model: str, dataset: str, seed: int) -> str:
    specs = load_suite("curves_mini").specs
    return next(
        s.run_id() for s in specs if (s.model.name, s.dataset, s.seed) == (model, dataset, seed)
    )


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "curves_mini.yaml").write_text(SUITE)
    monkeypatch.setenv("OMNIBENCH_SUITES", str(tmp_path / "suites"))
    store = RunStore(tmp_path / "results")
    for spec in load_suite("curves_mini").specs:
        store.prepare("curves_mini", spec)
        run_dir = store.run_dir("curves_mini", spec.run_id())
        losses = CURVES.get((spec.model.name, spec.dataset, spec.seed))
        if losses is None:  # omniclip on ucf101: finished by an older omnibench, no curve file
            history = [{"epoch": 1, "loss": 1.2, "lr": 0.2}, {"epoch": 2, "loss": 0.9, "lr": 0.4}]
            record = make_record(spec, "curves_mini", {"top1": 87.5})
            atomic_write_json(run_dir / RECORD_FILE, {**record, "train": {"history": history}})
            continue
        lrs = (0.1, 0.2, 0.3, 0.4)
        write_train_steps(run_dir / TRAIN_STEPS_FILE, TrainSteps(4, 2, (1, 1, 2, 2), losses, lrs))
        if math.isnan(losses[-1]):
            store.write_status("curves_mini", spec.run_id(), "failed", error="training diverged")
            continue
        top1 = 25.0 if spec.model.name == "xclip" else 87.5
        evaluation = {"dataset": spec.dataset, "split": "test1", "top1": top1, "videos": 8}
        record = make_record(spec, "curves_mini", {"top1": top1}, [{**evaluation, "classes": 4}])
        atomic_write_json(run_dir / RECORD_FILE, record)
        store.write_status("curves_mini", spec.run_id(), "done")
    return store


def test_curves_group_runs_by_row_and_column_and_pool_seeds(store: RunStore) -> None:
    suite = load_suite("curves_mini")
    (table,) = suite_tables(suite, store)
    curves = table_curves(suite, table, store)
    assert [(p.title, [line.label for line in p.lines]) for p in curves.panels] == [
        ("HMDB51", ["OmniCLIP", "X-CLIP"]),
        ("UCF101", ["OmniCLIP", "X-CLIP"]),
    ]
    omniclip, xclip = curves.panels[0].lines
    x, mean, std = omniclip.step_band("loss")
    assert x.tolist() == [0.5, 1.0, 1.5, 2.0] and mean.tolist() == pytest.approx(
        [2.5, 1.5, 0.9, 0.5]
    )
    epochs, epoch_mean, epoch_std = omniclip.epoch_band()  # seed 0: 1.5, 0.7; seed 1: 2.5, 0.7
    assert epochs.tolist() == [1, 2] and epoch_mean.tolist() == pytest.approx([2.0, 0.7])
    assert epoch_std.tolist() == pytest.approx([math.sqrt(0.5), 0.0], abs=1e-12)
    assert xclip.diverged() == [(1.0, 2, 1.5)] and omniclip.diverged() == []
    assert curves.panels[1].lines[1].at_chance == 1 and omniclip.at_chance == 0
    assert curves.panels[0].chance_loss() == pytest.approx(math.log(4))
    assert curves.panels[0].shared("steps_per_epoch") == 2


def test_a_run_without_a_curve_file_shows_its_records_epochs(store: RunStore) -> None:
    """Its record's train.history: one point per epoch, no optimiser-step axis in its panel."""
    suite = load_suite("curves_mini")
    ucf = table_curves(suite, suite_tables(suite, store)[0], store).panels[1]
    older = ucf.lines[0]
    assert older.label == "OmniCLIP" and [run.per_epoch for run in older.runs] == [True]
    x, mean, _ = older.step_band("lr")
    assert (x.tolist(), mean.tolist()) == ([1.0, 2.0], [0.2, 0.4])
    epochs, loss, _ = older.epoch_band()
    assert (epochs.tolist(), loss.tolist()) == ([1.0, 2.0], [1.2, 0.9])
    assert ucf.shared("steps_per_epoch") is None and ucf.chance_loss() is None  # 2 vs 4 classes


def test_loss_figure_marks_divergence_and_chance_in_the_rows_colours(store: RunStore) -> None:
    suite = load_suite("curves_mini")
    (table,) = suite_tables(suite, store)
    figure = curve_figure(table_curves(suite, table, store), "loss")
    hmdb, ucf = figure.axes[:2]
    colors = method_colors([row.method for row in table.rows])  # as the top-1 figures colour
    thick = [line for line in hmdb.get_lines() if line.get_marker() == "o" and line.get_lw() > 1]
    assert [line.get_color() for line in thick] == [colors["OmniCLIP"], colors["X-CLIP"]]
    crosses = [line for line in hmdb.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_color() == "red"
    assert (crosses[0].get_xdata()[0], crosses[0].get_ydata()[0]) == (1.0, 1.5)  # step 2 of 2
    circles = [line for ax in (hmdb, ucf) for line in ax.get_lines() if line.get_mfc() == "none"]
    assert len(circles) == 1 and circles[0] in ucf.get_lines()  # X-CLIP on UCF101 only
    guess = [line for line in hmdb.get_lines() if line.get_linestyle() == ":"]
    assert [line.get_ydata()[0] for line in guess] == pytest.approx([math.log(4)])
    assert any("chance: ln 4 = 1.39" in text.get_text() for text in hmdb.texts)
    assert not any(line.get_linestyle() == ":" for line in ucf.get_lines())  # 2 vs 4 classes
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["OmniCLIP", "X-CLIP", "diverged (loss not finite)", "top-1 at chance"]
    assert isinstance(figure.legends[0].legend_handles[0], Line2D)


def test_report_writes_loss_and_lr_pngs_at_paper_width(store: RunStore, tmp_path: Path) -> None:
    bad = store.run_dir("curves_mini", _run_id("omniclip", "hmdb51", 1))
    (bad / TRAIN_STEPS_FILE).write_text("{not json")  # omniclip seed 1: shown as not drawn
    _, written = write_report(["curves_mini"], store, curves_dir=tmp_path / "curves")
    assert [p.name for p in written] == ["curves_mini-table-loss.png", "curves_mini-table-lr.png"]
    for path in written:
        image = matplotlib.image.imread(path)
        assert image.shape[1] == WIDTH * DPI
        assert (image[..., :3] < 0.5).mean() > 0.005, f"{path.name} has almost no ink"
    assert not list((tmp_path / "curves").glob(".*"))  # no temporary file left
    suite = load_suite("curves_mini")
    curves = table_curves(suite, suite_tables(suite, store)[0], store)
    assert len(curves.unreadable) == 1 and str(bad / TRAIN_STEPS_FILE) in curves.unreadable[0]
    legend = [t.get_text() for t in curve_figure(curves, "loss").legends[0].get_texts()]
    assert legend[-1] == "not drawn: 1 unreadable curve file(s)"


def test_status_marks_diverged_and_at_chance_runs(
    store: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "curves_mini", "--results", str(store.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = {m: next(line for line in lines if m in line) for m in ("diverged", "at chance")}
    assert "failed" in row["diverged"] and "xclip" in row["diverged"]
    assert "25.00 at chance" in row["at chance"] and "done" in row["at chance"]
    assert sum("87.50" in line and "chance" not in line for line in lines) == 3
    xclip = _run_id("xclip", "hmdb51", 1024)
    assert main(["status", "curves_mini", "--run", xclip, "--results", str(store.root)]) == 0
    detail = capsys.readouterr().out
    assert "training 4 optimiser steps in 2 epochs" in detail and "diverged at step 2" in detail


def test_report_command_writes_curves_and_says_when_there_are_none(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "curves"
    assert (
        main(["report", "curves_mini", "--curves", str(folder), "--results", str(store.root)]) == 0
    )
    out = capsys.readouterr().out
    assert f"wrote {folder / 'curves_mini-table-loss.png'}" in out
    assert f"wrote {folder / 'curves_mini-table-lr.png'}" in out
    empty = tmp_path / "empty"
    empty.mkdir()  # a store without runs (a store that does not exist is an error of its own)
    assert main(["report", "curves_mini", "--curves", str(folder), "--results", str(empty)]) == 0
    assert "no training curves: no run of these tables has trained yet" in capsys.readouterr().out
