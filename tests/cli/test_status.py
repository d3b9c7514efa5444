"""Readable run tables at 80 columns and in logs; `status SUITE --run ID`; `--json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.store.revisions import computed_by
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import Suite, load_suite
from tests.conftest import Invoke

SUITE = """\
name: wide
description: a suite whose runs differ in four settings
table: {paper_table: null, title: Wide, layout: grid, rows: [model.name], columns: [dataset, \
protocol_options.shots], metrics: [top1]}
base:
  protocol: few_shot
  dataset: synthetic
  model: {backbone: omnibench-tiny-vit, pretrained: null}
grid:
  - protocol_options.shots: [2, 16]
    model.name: [vificlip, xclip]
    seed: [1, 2]
"""
ERROR = (
    "cannot load checkpoint file "
    "/cluster/project/some-group/checkpoints/clip/ViT-B-16-openai.pt into backbone "
    "'ViT-B-16': size mismatch for visual.positional_embedding "
    "(OpenAI weights need a '-quickgelu' backbone name)"
)


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[Suite, RunStore]:
    path = tmp_path / "wide.yaml"
    path.write_text(SUITE)
    suite, store = load_suite(path), RunStore(tmp_path / "results")
    for index, spec in enumerate(suite.specs[:3]):
        run_dir = store.prepare("wide", spec)
        if index == 0:
            atomic_write_json(
                run_dir / "record.json",
                {
                    "run_id": spec.run_id(),
                    "spec": spec.to_dict(),
                    "computed_by": computed_by(spec.to_dict()),
                    "metrics": {"top1": 61.25, "top5": 90.0},
                    "evaluations": [
                        {
                            "dataset": "synthetic",
                            "split": "test1",
                            "top1": 61.25,
                            "top5": 90.0,
                            "videos": 48,
                        }
                    ],
                },
            )
            store.write_status("wide", spec.run_id(), "done", job_id="4242_0")
        elif index == 1:
            store.write_status("wide", spec.run_id(), "failed", job_id="4242_1", error=ERROR)
            store.log_path("wide", spec.run_id()).write_text(
                "epoch 1/50\nTraceback (most recent call last):\nRuntimeError: boom\n"
            )
        else:
            store.write_status("wide", spec.run_id(), "pending", job_id="4242_2")  # queued in Slurm
    return suite, store


def test_status_fits_80_columns_and_prints_errors_whole_below_the_table(
    stored: tuple[Suite, RunStore], cli: Invoke
) -> None:
    suite, store = stored
    code, out = cli("status", str(suite.path), "--results", str(store.root), columns=80)
    assert code == 0
    table = out[: out.index("5 new ·")]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert all(spec.run_id() in table for spec in suite.specs)  # run ids are never cut
    failed = suite.specs[1].run_id()
    assert (
        f"{failed} failed: {ERROR}" in out
    )  # the whole error on one line, never folded into the table
    assert f"log: {store.log_path('wide', failed)}" in out
    code, out = cli("ls", "runs", "--results", str(store.root), columns=80)
    assert code == 0 and f"{failed} failed: {ERROR}" in out
    assert max(len(line) for line in out[: out.index("1 pending ·")].splitlines()) <= 80


def test_status_run_shows_one_run_in_detail(stored: tuple[Suite, RunStore], cli: Invoke) -> None:
    suite, store = stored
    failed, done = suite.specs[1].run_id(), suite.specs[0].run_id()
    code, out = cli("status", "wide", "--results", str(store.root), "--run", failed[:6])
    assert code == 0, out
    assert f"wide/{failed}  failed" in out and f"error    {ERROR}" in out
    assert "job      4242_1" in out and "RuntimeError: boom" in out  # the log's last lines
    assert (
        "  model.name = vificlip" in out
        and "  seed = 2" in out
        and "  protocol_options.shots = 2" in out
    )
    code, out = cli(
        "status", str(suite.path), "--results", str(store.root), "--run", done, "--json"
    )
    detail = json.loads(out)
    assert (detail["state"], detail["record"]["metrics"]["top1"], detail["spec"]["seed"]) == (
        "done",
        61.25,
        1,
    )
    code, out = cli("status", "wide", "--results", str(store.root), "--run", done)
    assert "result   top-1 61.25 · top-5 90.00 (1 clip(s) x 1 crop(s)" in out
    assert "synthetic/test1: top-1 61.25 · top-5 90.00 on 48 videos" in out


def test_status_run_with_an_unknown_or_ambiguous_id_is_an_error(
    stored: tuple[Suite, RunStore], cli: Invoke
) -> None:
    suite, store = stored
    code, out = cli("status", "wide", "--results", str(store.root), "--run", "zzzz")
    assert code == 2 and "--run zzzz: no run of 'wide'" in out
    code, out = cli("status", "wide", "--results", str(store.root), "--run", "")
    assert code == 2 and "several runs of 'wide' start with it" in out
    code, out = cli("status", "--results", str(store.root), "--run", "abc")
    assert code == 2 and "--run needs the suite" in out
