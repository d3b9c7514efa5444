"""Own suites: `include:` shares a base, and a suite run from a file is found by name afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.data import MOTIONS, SynthConfig, generate_synthetic
from omnibench.errors import OmniBenchError
from omnibench.store.run_store import RunStore
from omnibench.suite.files import suite_files
from omnibench.suite.load import load_suite
from tests.conftest import Invoke, cpu_options

FRAGMENT = """\
# the shared setting
table: {layout: grid, columns: [dataset], metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {name: omniclip, backbone: omnibench-tiny-vit, pretrained: null}
  optim: {epochs: 1}
  data: {frames: 4, input_size: 32, short_side: 32}
overrides:
  - when: {model.options.ratio: 0.5}
    set: {optim.lr: 1.0e-3}
"""
SUITE = """\
name: mine
description: my ratio study
include: _base.yaml
table: {paper_table: null, title: Mine, rows: [model.options.ratio]}
base:
  optim: {epochs: 2}
grid:
  model.options.ratio: [0.25, 0.5]
overrides:
  - when: {model.options.ratio: 0.25}
    set: {optim.lr: 2.0e-3}
"""


@pytest.fixture()
def suite_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "my-suites"
    folder.mkdir()
    (folder / "_base.yaml").write_text(FRAGMENT)
    (folder / "mine.yaml").write_text(SUITE)
    return folder


def test_include_merges_the_fragment_beneath_the_suite(suite_dir: Path) -> None:
    suite = load_suite(suite_dir / "mine.yaml")
    assert [
        (s.model.options["ratio"], s.optim.epochs, s.optim.lr, s.dataset) for s in suite.specs
    ] == [
        (0.25, 2, 2e-3, "synthetic"),
        (0.5, 2, 1e-3, "synthetic"),
    ]  # the suite's epochs win; both overrides apply
    assert (suite.table.layout, suite.table.columns, suite.table.rows) == (
        "grid",
        ("dataset",),
        ("model.options.ratio",),
    )
    assert suite.where(suite.specs[0], "model.backbone").endswith("_base.yaml:6")
    assert suite.where(suite.specs[0], "optim.epochs").endswith("mine.yaml:6")
    assert suite.where(suite.specs[1], "optim.lr").endswith("_base.yaml:11")


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "dataset: synthetic",
            "datset: synthetic",
            "_base.yaml:5",
            "unknown spec path 'datset' (did you mean 'dataset'?)",
        ),
        (
            "optim: {epochs: 1}",
            "optim: {epochs: 1, batch_size: big}",
            "_base.yaml:7",
            "optim.batch_size: expected int, got 'big'",
        ),
    ],
)
def test_errors_in_an_included_file_name_that_file(
    suite_dir: Path, old: str, new: str, where: str, message: str
) -> None:
    (suite_dir / "_base.yaml").write_text(FRAGMENT.replace(old, new))
    with pytest.raises(OmniBenchError) as info:
        load_suite(suite_dir / "mine.yaml")
    assert str(info.value).startswith(f"{suite_dir / where}: ") and message in str(info.value)


def test_a_missing_or_cyclic_include_is_an_error(suite_dir: Path) -> None:
    (suite_dir / "mine.yaml").write_text(SUITE.replace("_base.yaml", "_bse.yaml"))
    with pytest.raises(OmniBenchError, match=r"mine.yaml:3: included file not found: .*_bse.yaml"):
        load_suite(suite_dir / "mine.yaml")
    (suite_dir / "mine.yaml").write_text(SUITE)
    (suite_dir / "_base.yaml").write_text("include: mine.yaml\n" + FRAGMENT)
    with pytest.raises(OmniBenchError, match="include cycle"):
        load_suite(suite_dir / "mine.yaml")


def test_fragments_are_not_suites_and_the_ablations_share_one(
    monkeypatch: pytest.MonkeyPatch, suite_dir: Path
) -> None:
    monkeypatch.setenv("OMNIBENCH_SUITES", str(suite_dir))
    assert (
        "mine" in suite_files()
        and "_base" not in suite_files()
        and "_ablation" not in suite_files()
    )
    for study in ("modules", "ratio", "prompt", "location", "combination"):
        suite = load_suite(f"ablation-{study}")
        assert "k400_tiny" in suite.external_datasets and suite.table.columns == ("dataset",)
        tiny = [s for s in suite.specs if s.dataset == "k400_tiny" and s.protocol == "supervised"]
        assert tiny and all(s.protocol_options["eval_split"] == "val" for s in tiny)


def test_a_suite_run_from_a_file_is_found_by_name(
    suite_dir: Path, tmp_path: Path, cli: Invoke
) -> None:
    root = tmp_path / "data"
    generate_synthetic(
        root / "synthetic",
        SynthConfig(classes=tuple(MOTIONS)[:2], videos_per_class=6, frames=4, size=32),
    )
    store = RunStore(tmp_path / "results")
    quick = [
        "--set",
        "protocol=eval_only",
        "--limit",
        "1",
    ]  # frozen models, one video per class: seconds
    args = ["--results", str(store.root), *quick]
    code, out = cli("run", str(suite_dir / "mine.yaml"), *args, *cpu_options(root))
    assert code == 0, out
    assert store.suite_source("mine") == (suite_dir / "mine.yaml").resolve()
    code, out = cli("status", "mine", *args, "--json")
    assert code == 0 and [r["state"] for r in json.loads(out)] == ["done", "done"]
    code, out = cli("report", "--results", str(store.root), *quick, "--json")
    assert code == 0 and [t["suite"] for t in json.loads(out)] == ["mine"]
    code, out = cli("cancel", "mine", "--results", str(store.root))
    assert code == 0 and "no queued or running runs recorded for suite 'mine'" in out
    (suite_dir / "mine.yaml").rename(suite_dir / "moved.yaml")
    code, out = cli("status", "mine", *args)
    assert code == 2 and "was run from" in out and "no longer exists" in out


def test_a_file_that_reuses_a_built_in_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "few-shot.yaml"
    path.write_text(
        SUITE.replace("name: mine", "name: few-shot")
        .replace("include: _base.yaml\n", "")
        .replace(
            "table: {paper_table: null, title: Mine, rows: [model.options.ratio]}",
            "table: {paper_table: null, title: Mine, layout: grid, rows: [model.options.ratio], "
            "columns: [dataset], metrics: [top1]}",
        )
        .replace(
            "  optim: {epochs: 2}",
            "  protocol: supervised\n  dataset: synthetic\n  optim: {epochs: 2}",
        )
        .replace(
            "overrides:\n  - when: {model.options.ratio: 0.25}\n    set: {optim.lr: 2.0e-3}\n", ""
        )
    )
    from omnibench.suite.load import remember_source

    with pytest.raises(
        OmniBenchError, match="suite name 'few-shot' is already taken by .*suites/few-shot.yaml"
    ):
        remember_source(RunStore(tmp_path / "r"), load_suite(path))


def test_a_dry_run_refuses_a_reused_name_as_the_run_does(tmp_path: Path, cli: Invoke) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text((Path(__file__).parents[2] / "suites" / "demo.yaml").read_text())
    for extra in (["--dry-run"], []):
        code, out = cli("run", str(path), "--results", str(tmp_path / "r"), *extra)
        assert code == 2, out
        assert "suite name 'demo' is already taken by" in out
        assert "would execute" not in out
    assert not (tmp_path / "r" / "demo").exists()
