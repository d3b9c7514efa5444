"""`omnibench rm SUITE [--run RUN | --failed]`: asks first, keeps active runs, never leaves the
store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import Suite, load_suite
from tests.conftest import Invoke, plant_lock

SUITE = """\
name: four
description: four runs in four states
table: {paper_table: null, title: Four, layout: grid, rows: [model.name], columns: [dataset], \
metrics: [top1]}
base: {protocol: few_shot, dataset: synthetic, model: {backbone: omnibench-tiny-vit, \
pretrained: null}}
grid: {model.name: [omniclip, xclip, vificlip, vl_prompt]}
"""


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[Suite, RunStore]:
    """Runs 0-3: done, failed, failed, running."""
    path = tmp_path / "four.yaml"
    path.write_text(SUITE)
    suite, store = load_suite(path), RunStore(tmp_path / "results")
    for spec, state in zip(suite.specs, ("done", "failed", "failed", "running")):
        run_dir = store.prepare("four", spec)
        if state == "done":
            atomic_write_json(
                run_dir / "record.json", {"run_id": spec.run_id(), "metrics": {"top1": 1.0}}
            )
        store.write_status("four", spec.run_id(), state)
        if state == "running":
            plant_lock(run_dir)  # executed on another node
    return suite, store


def _left(store: RunStore) -> list[str]:
    return [run.run_id for run in store.iter_runs("four")]


def test_rm_failed_asks_and_removes_only_failed_runs(
    stored: tuple[Suite, RunStore], cli: Invoke
) -> None:
    suite, store = stored
    ids = [spec.run_id() for spec in suite.specs]
    code, out = cli("rm", "four", "--failed", "--results", str(store.root), input="n\n")
    assert code == 1 and sorted(_left(store)) == sorted(ids)  # declined: nothing removed
    code, out = cli("rm", "four", "--failed", "--results", str(store.root), input="y\n")
    assert code == 0 and "removed 2 runs of 'four'" in out
    assert sorted(_left(store)) == sorted([ids[0], ids[3]])
    assert f"kept 1 queued or running run: {ids[3]}" in out


def test_rm_one_run_by_prefix_and_the_whole_suite(
    stored: tuple[Suite, RunStore], cli: Invoke
) -> None:
    suite, store = stored
    ids = [spec.run_id() for spec in suite.specs]
    code, out = cli(
        "rm", str(suite.path), "--run", ids[0][:5], "--yes", "--results", str(store.root)
    )
    assert code == 0 and ids[0] not in _left(store) and len(_left(store)) == 3
    code, out = cli("rm", "four", "--run", ids[3], "--yes", "--results", str(store.root))
    assert code == 2 and "is running: omnibench cancel four first" in out
    store.write_status("four", ids[3], "failed", error="cancelled")
    code, out = cli("rm", "four", "--yes", "--results", str(store.root))
    assert code == 0 and not (store.root / "four").exists() and store.root.is_dir()


def test_rm_refuses_unknown_suites_and_never_follows_links(
    stored: tuple[Suite, RunStore], tmp_path: Path, cli: Invoke
) -> None:
    suite, store = stored
    code, out = cli("rm", "fuor", "--yes", "--results", str(store.root))
    assert code == 2 and "no runs of suite 'fuor'" in out and "(did you mean 'four'?)" in out
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "spec.json").write_text("{}")  # looks like a run, lives outside the store
    os.symlink(outside, store.root / "four" / "abcdef123456")
    code, out = cli("rm", "four", "--run", "abcdef", "--yes", "--results", str(store.root))
    assert (
        code == 0
        and (outside / "spec.json").is_file()
        and not (store.root / "four" / "abcdef123456").exists()
    )
    code, out = cli("rm", "../results/four", "--yes", "--results", str(store.root))
    assert code == 2 and (store.root / "four").is_dir()


def test_rm_stale_removes_runs_whose_annotation_files_changed(
    stored: tuple[Suite, RunStore], tmp_path: Path, cli: Invoke
) -> None:
    from omnibench.store.acceptance import sha256_file
    from tests.report_fixtures import make_record

    suite, store = stored
    listing = tmp_path / "train.txt"
    listing.write_text("a.mp4 0\n")
    for spec in suite.specs[:2]:  # two finished runs that read train.txt
        record = make_record(spec, "four", {"top1": 50.0}) | {
            "files": {str(listing): sha256_file(listing)}
        }
        atomic_write_json(store.run_dir("four", spec.run_id()) / "record.json", record)
    code, out = cli("rm", "four", "--stale", "--yes", "--results", str(store.root))
    assert code == 0 and "nothing to remove" in out
    listing.write_text("a.mp4 0\nb.mp4 1\n")  # the list changed: both records are stale now
    code, out = cli("rm", "four", "--stale", "--yes", "--results", str(store.root))
    assert code == 0 and "removed 2 runs of 'four'" in out
    assert sorted(_left(store)) == sorted(spec.run_id() for spec in suite.specs[2:])
    code, out = cli("rm", "four", "--stale", "--failed", "--results", str(store.root))
    assert code == 2 and "one of --run, --failed and --stale" in out
