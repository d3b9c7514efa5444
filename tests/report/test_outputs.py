"""`omnibench report` end to end: suite files + a run store written here -> terminal, LaTeX that
compiles with pdflatex, markdown, CSV and PNG plots of the expected size that are not blank."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from omnibench.cli import main
from omnibench.config.spec import RunSpec
from omnibench.report import stats, write_report
from omnibench.report.build import build_tables
from omnibench.report.plots import PIXELS, ablation_figure
from omnibench.store.run_files import RECORD_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import TableSpec, load_suite
from tests.report.test_stats import write_predictions
from tests.report_fixtures import make_record, suite_runs

TEXLIVE = ("texlive-latex-base", "texlive-latex-recommended")
SUITES = {
    # underscores and % exercise the LaTeX escaping
    "few_shot_mini": """
table: {paper_table: table5, title: "Few-shot top-1 (%)", layout: grid, rows: [model.name],
        columns: [dataset, protocol_options.shots], metrics: [top1]}
base: {protocol: few_shot}
grid: {dataset: [hmdb51, ucf101], protocol_options.shots: [2, 4, 8, 16], \
model.name: [omniclip, xclip], data_seed: [0, 1]}
""",
    "sup_mini": """
table: {paper_table: table2, title: Supervised, layout: supervised, rows: [model.name], \
columns: [dataset], metrics: [top1, top5]}
base: {protocol: supervised, data: {frames: 8, test_clips: 4, test_crops: 3}}
grid: {dataset: [k400, hmdb51, ucf101], model.name: [omniclip, xclip]}
""",
    "ratio_mini": """
table: {paper_table: table8, title: Temporal ratio, layout: grid, rows: [model.options.ratio], \
columns: [dataset], metrics: [top1],
        reference: {model.options.ratio: 0.25}}
base: {protocol: supervised, model: {name: omniclip}}
grid: {dataset: [hmdb51], model.options.ratio: [0.125, 0.25, 0.5, 1.0]}
""",
    "zs_mini": """
table: {paper_table: table6, title: Zero-shot, layout: zero_shot, rows: [model.name], \
columns: [eval.dataset], metrics: [top1]}
base: {protocol: zero_shot, dataset: k400, protocol_options: {targets: [hmdb51, ucf101]}}
grid: {model.name: [omniclip, xclip]}
""",
}


def top1_of(spec: RunSpec) -> float:
    """A deterministic accuracy per run, different across models, K, datasets and seeds."""
    shots = spec.protocol_options.get("shots", 0)
    return round(
        40.0
        + 2 * shots
        + 5 * (spec.model.name == "omniclip")
        + spec.data_seed
        + len(spec.dataset) / 10,
        2,
    )


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """Suite files in $OMNIBENCH_SUITES and a store where all runs but the last of each suite
    finished."""
    suites = tmp_path / "suites"
    suites.mkdir()
    for name, body in SUITES.items():
        (suites / f"{name}.yaml").write_text(f"name: {name}\ndescription: test suite\n{body}")
    monkeypatch.setenv("OMNIBENCH_SUITES", str(suites))
    store = RunStore(tmp_path / "results")
    for name in SUITES:
        specs = load_suite(name).specs
        for spec in specs:
            store.prepare(name, spec)
        for spec in specs[:-1]:
            evaluations = [
                {
                    "dataset": d,
                    "split": f"test{i}",
                    "top1": top1_of(spec) + i,
                    "top5": 90.0,
                    "mean_class": 1.0,
                    "videos": 10,
                }
                for d in ("hmdb51", "ucf101")
                for i in (1, 2, 3)
            ]
            record = make_record(
                spec,
                name,
                {"top1": top1_of(spec), "top5": 90.0},
                evaluations if spec.protocol == "zero_shot" else None,
            )
            atomic_write_json(store.run_dir(name, spec.run_id()) / RECORD_FILE, record)
            if name == "ratio_mini":  # 45.6 % of 500 videos, the same ones for every ratio
                write_predictions(store.run_dir(name, spec.run_id()), np.arange(500) < 228)
        store.write_status(name, specs[-1].run_id(), "failed", error="boom")
    return store


@pytest.fixture(scope="session")
def pdflatex() -> str:
    """pdflatex, installed with apt-get (Debian's texlive) when missing and we are root; else
    skip."""
    found = shutil.which("pdflatex")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip(
            f"pdflatex is missing; install {' and '.join(TEXLIVE)} (needs root and apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *TEXLIVE]):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=1800, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return shutil.which("pdflatex") or pytest.fail("texlive installed but pdflatex is not on PATH")


def test_cli_writes_every_format(
    store: RunStore, tmp_path: Path, pdflatex: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = [
        "report",
        *SUITES,
        "--results",
        str(store.root),
        "--latex",
        str(out / "report.tex"),
        "--markdown",
        str(out / "report.md"),
        "--csv",
        str(out / "csv"),
        "--plots",
        str(out / "plots"),
    ]
    assert main(args) == 0
    assert "5 tables from 4 suites" in capsys.readouterr().out
    tex = (out / "report.tex").read_text()
    assert tex.count(r"\begin{table}") == 5 and r"\toprule" in tex and r"\textbf{" in tex
    assert r"+0.00 [+0.00, +0.00] $\approx$" in tex and r"$\Delta$ vs 1/4" in tex
    assert (
        r"\multicolumn{4}{c}{HMDB51}" in tex
        and r"\cmidrule(lr){3-6}" in tex
        and r"few\_shot\_mini" in tex
    )
    compiled = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout[-2000:]
    assert (out / "report.pdf").stat().st_size > 1000
    markdown = (out / "report.md").read_text()
    assert (
        "| Method" in markdown
        and "**" in markdown
        and "suite few_shot_mini: 32 runs — 31 done, 1 failed." in markdown
    )


def test_csv_holds_the_exact_cells(store: RunStore, tmp_path: Path) -> None:
    _, written = write_report(["few_shot_mini"], store, csv_dir=tmp_path / "csv")
    [path] = written
    tidy = pd.read_csv(path)
    ours = tidy[
        (tidy["kind"] == "measured")
        & (tidy["method"] == "OmniCLIP")
        & (tidy["dataset"] == "hmdb51")
    ]
    k2 = ours[ours["protocol_options.shots"] == 2].iloc[0]
    assert (k2["mean"], k2["std"], k2["n"]) == (
        pytest.approx(49.6 + 0.5),
        pytest.approx(0.5**0.5),
        2,
    )  # seeds 0 and 1
    delta = tidy[
        (tidy["kind"] == "delta")
        & (tidy["method"] == "OmniCLIP")
        & (tidy["dataset"] == "hmdb51")
        & (tidy["protocol_options.shots"] == 2)
    ]
    assert delta["mean"].item() == pytest.approx(50.1 - 54.1)
    ratio = pd.read_csv(write_report(["ratio_mini"], store, csv_dir=tmp_path / "csv")[1][0])
    to_reference = ratio[ratio["source"] == "Δ vs 1/4"]
    assert to_reference["method"].tolist() == ["1/8", "1/2"]  # the run of ratio 1 failed
    assert (
        to_reference[["mean", "ci_low", "ci_high", "p_value"]].values.tolist()
        == [[0.0, 0.0, 0.0, 1.0]] * 2
    )
    assert to_reference["within_noise"].tolist() == [True, True]


def test_plots_have_the_expected_size_and_are_not_blank(store: RunStore, tmp_path: Path) -> None:
    _, written = write_report(list(SUITES), store, plots_dir=tmp_path / "plots")
    assert sorted(p.name for p in written) == [
        "few_shot_mini-table5.png",
        "ratio_mini-table8.png",
        "sup_mini-table2.png",
    ]
    for path in written:
        image = matplotlib.image.imread(path)
        assert (image.shape[1], image.shape[0]) == PIXELS
        colours = np.unique(image[..., :3].reshape(-1, 3), axis=0)
        assert len(colours) > 50, f"{path.name} looks blank"
        assert (image[..., :3] < 0.5).mean() > 0.005, f"{path.name} has almost no ink"


def test_terminal_report_and_errors(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(record=True, width=200)
    write_report(["zs_mini"], store, console=console)
    text = console.export_text()
    assert (
        "Zero-shot" in text
        and "OmniCLIP T6" in text
        and "51.3 ± 1.2" in text
        and "47.4 ± 1.0" in text
    )
    assert main(["report", "--results", str(store.root)]) == 0  # every suite with runs
    assert "Temporal ratio" in capsys.readouterr().out
    assert main(["report", "no-such-suite", "--results", str(store.root)]) == 2
    capsys.readouterr()
    (store.root.parent / "empty").mkdir()
    assert main(["report", "--results", str(store.root.parent / "empty")]) == 2
    assert "no suite has runs" in capsys.readouterr().err
    assert main(["report", "--results", str(store.root / "typo")]) == 2  # mistyped: named
    assert f"run store {store.root / 'typo'} does not exist" in capsys.readouterr().err


def test_ablation_bars_carry_the_std_over_seeds_as_error_bars() -> None:
    plan = [
        (
            RunSpec.from_dict(
                {
                    "protocol": "supervised",
                    "dataset": "hmdb51",
                    "seed": seed,
                    "model": {"name": "omniclip", "options": {"ratio": ratio}},
                }
            ),
            top1,
        )
        for ratio, seed, top1 in [(0.25, 0, 60.0), (0.25, 1, 64.0), (0.5, 0, 50.0)]
    ]
    table = TableSpec("table8", "Ratio", "grid", ("model.options.ratio",), ("dataset",), ("top1",))
    [built] = build_tables(table, suite_runs("ratio", plan))
    [ours] = [c for c in ablation_figure(built).axes[0].containers if "omnibench" in c.get_label()]
    heights = [bar.get_height() for bar in ours]
    spans = [segment[1][1] - segment[0][1] for segment in ours.errorbar.lines[2][0].get_segments()]
    labels = list(dict.fromkeys(r.method for r in built.rows if r.kind != "delta"))
    assert dict(zip(labels, heights))["1/4"] == 62.0
    assert dict(zip(labels, spans)) == {
        **dict.fromkeys(labels, 0.0),
        "1/4": pytest.approx(2 * 8**0.5),
    }


def test_bootstrap_settings_from_the_command_line(
    store: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "report",
                "ratio_mini",
                "--results",
                str(store.root),
                "--json",
                "--resamples",
                "200",
                "--bootstrap-seed",
                "3",
            ]
        )
        == 0
    )
    [table] = json.loads(capsys.readouterr().out)
    assert any(
        "(200 resamples of the videos and of each cell's runs, seed 3)" in note
        for note in table["notes"]
    )
    assert main(["report", "--help"]) == 0
    defaults = stats.BootstrapSettings()
    help_text = " ".join(
        re.sub("[│╭╮╰╯─]", " ", capsys.readouterr().out).split()
    )  # rich's boxes wrap lines
    assert (
        f"(default {defaults.resamples})" in help_text and f"(default {defaults.seed})" in help_text
    )
    assert main(["report", "ratio_mini", "--results", str(store.root), "--resamples", "10"]) == 2
