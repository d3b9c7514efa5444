"""`omnibench run` end to end: real tiny models on generated videos, inline executor.

One run fails on purpose (it names a test split the dataset does not have): it must not
hide the others, the summary names it with its log, and the exit code is non-zero. Done runs
are skipped on the next invocation, the failed one is retried, ``--force`` reruns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.store.run_store import RunStore
from omnibench.suite.load import load_suite
from tests.conftest import TinyData, cpu_options

SUITE = """\
name: e2e
description: end-to-end CLI test
table: {paper_table: null, title: e2e, layout: grid, rows: [model.name], columns: [protocol], \
metrics: [top1]}
base:
  dataset: synthetic
  model: {backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 1, batch_size: 4, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0}
grid:
  - protocol: [few_shot]
    protocol_options.shots: [2]
    protocol_options.eval_split: [test1, test9]
    model.name: [vificlip]
  - protocol: [eval_only]
    model.name: [vanilla_clip]
    protocol_options.splits: [[test1]]
"""


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_run_skip_retry_and_force(
    tmp_path: Path,
    data_root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    suite_file = tmp_path / "e2e.yaml"
    suite_file.write_text(SUITE)
    suite, store = load_suite(suite_file), RunStore(tmp_path / "results")
    vifi, broken, vanilla = (s.run_id() for s in suite.specs)
    common = ["--results", str(store.root), *cpu_options(data_root)]

    code, out = _run(capsys, "run", str(suite_file), *common)
    assert code == 1, out
    assert [store.is_done("e2e", i) for i in (vifi, broken, vanilla)] == [True, False, True]
    failed = store.read_status("e2e", broken)
    assert failed.state == "failed" and "unknown split 'test9' of synthetic" in failed.error
    summary = out[out.rindex("e2e: 3 runs") :]
    assert "2 done · 1 failed" in summary and "unknown split 'test9'" in summary
    assert (
        f"{broken} failed: " in summary and f"{broken}/log.txt" in summary
    )  # the whole error, then its log
    assert f"logs: {store.root / 'e2e'}/<run>/log.txt" in summary
    assert "Traceback" not in out  # the traceback goes to the run's log only
    assert "Traceback" in store.log_path("e2e", broken).read_text()
    progress = [
        line.split(" ", 1)[1]
        for line in out.splitlines()
        if line.split(" ")[1:2] and line.split(" ")[1].startswith("[")
    ]
    assert [
        line.split(" ")[:2] for line in progress
    ] == [  # one plain line per start and end, in run order
        ["[1/3]", "start"],
        ["[1/3]", "done"],
        ["[2/3]", "start"],
        ["[2/3]", "failed"],
        ["[3/3]", "start"],
        ["[3/3]", "done"],
    ]
    assert (
        progress[3].startswith(f"[2/3] failed e2e/{broken} in ")
        and "unknown split 'test9'" in progress[3]
    )
    assert progress[-1].endswith("run 3/3 · 2 done · 1 failed") and "ETA" in progress[1]
    assert (
        "[1/3] start" not in store.log_path("e2e", vifi).read_text()
    )  # the suite's lines stay out of the runs' logs
    record = store.read_record("e2e", vifi)
    assert record["run_id"] == vifi and 0 <= record["metrics"]["top1"] <= 100
    done_mtime = (store.run_dir("e2e", vifi) / "record.json").stat().st_mtime_ns

    code, out = _run(capsys, "run", str(suite_file), *common)
    assert code == 1
    assert (store.run_dir("e2e", vifi) / "record.json").stat().st_mtime_ns == done_mtime  # skipped
    assert store.read_status("e2e", broken).extra["starts"] == 2  # retried

    code, out = _run(
        capsys, "run", str(suite_file), *common, "--force", "--model", "vificlip", "--shots", "2"
    )
    assert code == 1, out  # the broken run is selected too, and fails again
    assert (store.run_dir("e2e", vifi) / "record.json").stat().st_mtime_ns != done_mtime
    assert store.read_status("e2e", vifi).extra["starts"] == 1  # a fresh directory

    code, out = _run(capsys, "status", str(suite_file), "--results", str(store.root), "--json")
    states = {row["run_id"]: row["state"] for row in json.loads(out)}
    assert states == {vifi: "done", broken: "failed", vanilla: "done"}


def test_a_missing_data_root_fails_once_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "e2e.yaml"
    suite_file.write_text(SUITE.replace("dataset: synthetic", "dataset: ucf101"))
    results, empty = tmp_path / "results", tmp_path / "no-data"
    empty.mkdir()
    code, out = _run(
        capsys, "run", str(suite_file), "--results", str(results), "--data-root", str(empty)
    )
    assert code == 2 and "Traceback" not in out
    assert (
        f"data root of 'ucf101' not found: {empty / 'ucf101'} (change --data-root)"
        in out.replace("\n", "")
    )
    assert not results.exists()
