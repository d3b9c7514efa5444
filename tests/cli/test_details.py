"""Small things a careful user notices: state names, plurals, help, K order, LaTeX captions and
minus signs, the chance line of the plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from omnibench.cli import app
from omnibench.report.latex import escape
from omnibench.report.plots import ablation_figure, chance_level
from omnibench.store.run_files import RECORD_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import load_suite
from tests.conftest import Invoke
from tests.report_fixtures import make_record

SUITE = """\
name: two
description: two runs
table: {paper_table: table8, title: Ratio, layout: grid, rows: [model.options.ratio], \
columns: [dataset], metrics: [top1]}
base: {protocol: supervised, dataset: hmdb51, model: {name: omniclip}}
grid: {model.options.ratio: [0.25, 0.5]}
"""


@pytest.fixture()
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(SUITE)
    return path


def _finish(store: RunStore, path: Path, index: int, top1: float, classes: int = 51) -> None:
    suite = load_suite(path)
    spec = suite.specs[index]
    store.prepare(suite.name, spec)
    record = make_record(spec, suite.name, {"top1": top1, "top5": 90.0}) | {
        "classes": [f"c{i}" for i in range(classes)]
    }
    atomic_write_json(store.run_dir(suite.name, spec.run_id()) / RECORD_FILE, record)
    store.write_status(suite.name, spec.run_id(), "done")


def test_report_and_status_name_states_alike(suite_file: Path, tmp_path: Path, cli: Invoke) -> None:
    store = RunStore(tmp_path / "r")
    _finish(store, suite_file, 0, 60.0)
    code, out = cli("status", str(suite_file), "--results", str(store.root))
    assert code == 0 and "1 new · 1 done" in out
    code, out = cli("report", str(suite_file), "--results", str(store.root), "--json")
    assert code == 0 and json.loads(out)[0]["footer"][0] == "suite two: 2 runs — 1 new, 1 done."
    code, out = cli("report", "no-such-suite", "--results", str(store.root))
    assert code == 2 and "unknown suite 'no-such-suite'" in out


@pytest.fixture()
def online_hmdb51(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs on HMDB51 with open_clip's tags pass the plan checks: weights downloadable, a data
    root."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    (tmp_path / "data" / "hmdb51").mkdir(parents=True)
    return tmp_path / "data"


def test_counts_are_plural_only_when_they_should_be(
    suite_file: Path, tmp_path: Path, online_hmdb51: Path, cli: Invoke
) -> None:
    one = tmp_path / "one.yaml"
    one.write_text(SUITE.replace("name: two", "name: one").replace("[0.25, 0.5]", "[0.25]"))
    code, out = cli("validate", str(one), str(suite_file), "--data-root", str(online_hmdb51))
    assert code == 0 and "one: 1 run ->" in out and "two: 2 runs ->" in out
    code, out = cli(
        "run",
        str(one),
        "--dry-run",
        "--results",
        str(tmp_path / "r"),
        "--data-root",
        str(online_hmdb51),
    )
    assert code == 0 and "one: 1 run (dry run)" in out
    code, out = cli("validate", str(tmp_path / "missing.yaml"))
    assert code == 2 and "suite file not found" in out


def _paths(command: object, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, [*prefix, name])
    return found


def test_help_shows_no_value_after_flags(cli: Invoke) -> None:
    for path in _paths(typer.main.get_command(app), []):
        code, out = cli(*path, "--help")
        assert code == 0 and "<bool>" not in out, path
    code, out = cli("run", "--dry-run=yes", "demo")
    assert code == 2  # a flag takes no value


def test_k_values_are_listed_in_numeric_order(
    tmp_path: Path, online_hmdb51: Path, cli: Invoke
) -> None:
    code, out = cli("run", "few-shot", "--shots", "3", "--dry-run", "--results", str(tmp_path))
    assert code == 2 and "values: 2, 4, 8, 16" in out
    code, out = cli(
        "run",
        "few-shot",
        "--shots",
        "2",
        "--dataset",
        "hmdb51",
        "--dry-run",
        "--results",
        str(tmp_path),
        "--data-root",
        str(online_hmdb51),
    )
    assert code == 0, out


def test_latex_captions_show_the_title_and_deltas_a_real_minus(
    suite_file: Path, tmp_path: Path, cli: Invoke
) -> None:
    store = RunStore(tmp_path / "r")
    _finish(store, suite_file, 0, 10.0)
    tex = tmp_path / "report.tex"
    code, out = cli("report", str(suite_file), "--results", str(store.root), "--latex", str(tex))
    assert code == 0, out
    text = tex.read_text()
    assert "\\caption{Ratio}" in text and "% omnibench suite two, table8" in text
    assert (
        escape("−12.3") == "$-$12.3" and "$-$" in text
    )  # 10.0 is below the published 1/4 row: a negative Δ
    code, out = cli("report", str(suite_file), "--results", str(store.root), "--latex")
    assert code == 2 and "--latex" in out  # the option needs a file


def test_latex_keeps_double_hyphens_and_frozen_clip_is_not_labelled_without_pta() -> None:
    """pdflatex joins ``--`` into an en dash (the footnote's ``--limit 2`` printed "–limit 2"); a
    row of vanilla CLIP beside OmniCLIP with and without PTA reads "Vanilla CLIP", not "Vanilla
    CLIP PTA ✗" (the switch is only implied for it, to fill Table 7's row)."""
    from omnibench.report.cells import row_name

    assert escape("--limit 2 – a-b") == "-{}-limit 2 -- a-b"
    paths = ["model.name", "model.options.use_pta"]
    assert row_name(paths, ("vanilla_clip", False)) == "Vanilla CLIP"
    assert row_name(paths, ("omniclip", False)) == "OmniCLIP PTA ✗"
    assert row_name(["model.options.use_pta"], (False,)) == "PTA ✗"  # Table 7's own row


def test_plots_draw_the_chance_level_they_name(
    suite_file: Path, tmp_path: Path, cli: Invoke
) -> None:
    store = RunStore(tmp_path / "r")
    _finish(store, suite_file, 0, 30.0, classes=4)
    _finish(store, suite_file, 1, 40.0, classes=4)
    code, out = cli(
        "report", str(suite_file), "--results", str(store.root), "--plots", str(tmp_path / "plots")
    )
    assert code == 0 and (tmp_path / "plots" / "two-table8.png").is_file()
    from omnibench.report import suite_tables

    [table] = suite_tables(load_suite(suite_file), store)
    assert (
        table.classes == 4
        and chance_level(table, "top1") == 25.0
        and chance_level(table, "top5") == 100.0
    )
    [axes] = ablation_figure(table).axes
    assert [tuple(line.get_ydata()) for line in axes.get_lines()] == [(25.0, 25.0)]
    _finish(
        store, suite_file, 1, 40.0, classes=5
    )  # runs on different class lists: no single chance level
    [table] = suite_tables(load_suite(suite_file), store)
    assert table.classes is None and not ablation_figure(table).axes[0].get_lines()
