"""The inline and local executors on tiny real runs: status transitions, logs, failure isolation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnibench.config.runtime import LaunchOptions, RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.errors import OmniBenchError
from omnibench.execution.job import one_line
from omnibench.execution.launch import RunTask, launch
from omnibench.store.run_store import RunStore
from omnibench.store.runlog import redirect_output
from tests.conftest import TinyData

CLASSES = ("object moving left", "object moving right", "object growing")


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data(CLASSES)


def tiny_spec(seed: int = 1, **protocol_options: object) -> RunSpec:
    return RunSpec.from_dict(
        {
            "protocol": "supervised",
            "dataset": "synthetic",
            "seed": seed,
            "protocol_options": protocol_options,
            "model": {"name": "omniclip", "backbone": "omnibench-tiny-vit", "pretrained": None},
            "data": {"frames": 4, "input_size": 32, "short_side": 32},
            "optim": {
                "epochs": 2,
                "batch_size": 3,
                "warmup_epochs": 0,
                "mixup": 0,
                "cutmix": 0,
                "precision": "fp32",
            },
        }
    )


def _tasks(*specs: RunSpec) -> list[RunTask]:
    return [RunTask("tiny", spec.run_id(), spec) for spec in specs]


def _runtime(data_root: Path) -> RuntimeOptions:
    return RuntimeOptions(device="cpu", workers=0, data_root=data_root, progress=False)


def test_inline_runs_in_order_and_a_failure_does_not_stop_the_next(
    tmp_path: Path, data_root: Path
) -> None:
    store = RunStore(tmp_path / "results")
    bad, good = tiny_spec(train_split="no-such-split"), tiny_spec()
    outcomes = launch(
        _tasks(bad, good), store, LaunchOptions("inline", _runtime(data_root), None, 1)
    )

    assert [o.state for o in outcomes] == ["failed", "done"]
    failed, done = outcomes
    assert failed.error is not None and "no-such-split" in failed.error and "\n" not in failed.error
    assert Path(failed.log).is_file() and "Traceback" in Path(failed.log).read_text()
    status = store.read_status("tiny", good.run_id())
    assert status.state == "done" and status.error is None and status.extra["starts"] == 1
    record = store.read_record("tiny", good.run_id())
    assert record["run_id"] == good.run_id() and 0 <= record["metrics"]["top1"] <= 100
    log = Path(done.log).read_text()
    assert "start #1" in log and "synthetic/test1: top-1" in log  # the run's output is in its log


@pytest.mark.slow
def test_local_processes_match_inline_and_isolate_failures(tmp_path: Path, data_root: Path) -> None:
    good, bad = tiny_spec(seed=3), tiny_spec(seed=3, eval_split="no-such-split")
    inline_store, local_store = RunStore(tmp_path / "inline"), RunStore(tmp_path / "local")
    launch(_tasks(good), inline_store, LaunchOptions("inline", _runtime(data_root), None, 1))

    outcomes = launch(
        _tasks(good, bad), local_store, LaunchOptions("local", _runtime(data_root), None, 2)
    )

    assert [o.state for o in outcomes] == ["done", "failed"]
    assert all(o.job_id and o.job_id.isdigit() for o in outcomes)  # local jobs: process ids
    assert outcomes[0].job_id != outcomes[1].job_id
    assert "no-such-split" in outcomes[1].error and Path(outcomes[1].job_log).is_file()
    assert store_metrics(local_store, good) == store_metrics(inline_store, good)
    assert local_store.read_status("tiny", good.run_id()).job_id == outcomes[0].job_id
    assert (tmp_path / "local" / "tiny" / ".submitit").is_dir()
    assert "start #1" in Path(outcomes[0].log).read_text()


def store_metrics(store: RunStore, spec: RunSpec) -> dict:
    return store.read_record("tiny", spec.run_id())["metrics"]


def test_launch_rejects_bad_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, spec = RunStore(tmp_path), tiny_spec()
    assert launch([], store, LaunchOptions("slurm", RuntimeOptions(), None, 1)) == []
    with pytest.raises(OmniBenchError, match="unknown executor 'slurmm'"):
        launch(_tasks(spec), store, LaunchOptions("slurmm", RuntimeOptions(), None, 1))
    monkeypatch.delenv("OMNIBENCH_SLURM_PROFILE", raising=False)
    with pytest.raises(OmniBenchError, match=r"needs --profile NAME .*local"):
        launch(_tasks(spec), store, LaunchOptions("slurm", RuntimeOptions(), None, 1))
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(OmniBenchError, match="'sbatch' not found"):
        launch(_tasks(spec), store, LaunchOptions("slurm", RuntimeOptions(), "local", 1))
    with pytest.raises(ValueError, match="not the hash of its spec"):
        RunTask("tiny", "0123456789ab", spec)


def test_redirect_output_captures_file_descriptors(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    with redirect_output(log):
        print("from python")
        os.write(2, b"from fd 2\n")
        subprocess.run([sys.executable, "-c", "print('from a child')"], check=True)
    print("after")  # back on the real stdout
    assert log.read_text().splitlines() == ["earlier", "from python", "from fd 2", "from a child"]


def test_one_line_errors() -> None:
    assert one_line(OmniBenchError("bad key 'x'\nmore")) == "bad key 'x'"
    assert one_line(ValueError("boom")) == "ValueError: boom"
    assert one_line(RuntimeError()) == "RuntimeError"
    assert json.loads(json.dumps(one_line(KeyError("k")))) == "KeyError: 'k'"
