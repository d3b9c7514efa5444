"""Kill-and-resume gives the uninterrupted run's result bit for bit; 2 gloo ranks = 1 process."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from omnibench.config.spec import RunSpec
from omnibench.store.run_files import EVENTS_FILE, TRAIN_STEPS_FILE
from omnibench.store.tb_events import read_scalars

RUN_SCRIPT = """
import json, sys, torch
from pathlib import Path
torch.set_num_threads(1)
from omnibench.protocols import execute
from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
spec = RunSpec.from_dict(json.loads(sys.argv[1]))
runtime = RuntimeOptions(device="cpu", workers=int(sys.argv[4]), data_root=Path(sys.argv[3]), \
progress=False, tensorboard=sys.argv[5:] == ["tensorboard"])
execute(spec, Path(sys.argv[2]), "test", runtime)
"""


@pytest.fixture()
def script(tmp_path: Path) -> Path:
    path = tmp_path / "run_spec.py"
    path.write_text(RUN_SCRIPT)
    return path


def _spec(**optim) -> RunSpec:
    return RunSpec.from_dict(
        {
            "protocol": "few_shot",
            "dataset": "synthetic",
            "protocol_options": {"shots": 4},
            "model": {"name": "omniclip", "backbone": "omnibench-tiny-vit", "pretrained": None},
            "data": {"frames": 8, "input_size": 32, "short_side": 32},
            "optim": {"epochs": 3, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 1, **optim},
        }
    )


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _command(
    script: Path,
    spec: RunSpec,
    run_dir: Path,
    data_root: Path,
    workers: int,
    tensorboard: bool = False,
) -> list[str]:
    return [
        sys.executable,
        str(script),
        spec.canonical_json(),
        str(run_dir),
        str(data_root),
        str(workers),
        *(["tensorboard"] if tensorboard else []),
    ]


def _finish(
    script: Path,
    spec: RunSpec,
    run_dir: Path,
    data_root: Path,
    workers: int = 0,
    tensorboard: bool = False,
) -> dict:
    done = subprocess.run(
        _command(script, spec, run_dir, data_root, workers, tensorboard),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((run_dir / "record.json").read_text())


def _kill_after(
    process: subprocess.Popen, checkpoint: Path, steps: int, timeout: float = 300
) -> int:
    """SIGKILL ``process`` once its checkpoint holds ``steps`` optimiser steps; the step count at
    the kill."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.is_file():
            try:
                step = torch.load(checkpoint, weights_only=True)["position"]["global_step"]
            except Exception:  # noqa: BLE001 - the file is being replaced right now; look again
                step = -1
            if step >= steps:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return step
        time.sleep(0.02)
    process.kill()
    pytest.fail(
        f"the run ended or stalled before reaching step {steps}: {process.stderr.read()[-2000:]}"
    )


def _predictions(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _final_model(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]


@pytest.mark.slow
def test_sigkill_and_resume_ends_bitwise_identical(
    script: Path, data_root: Path, tmp_path: Path
) -> None:
    spec = _spec(
        checkpoint_every=2
    )  # 3 epochs x 5 steps; checkpoints at steps 2, 4, 5, 6, 8, 10, ...
    straight = _finish(script, spec, tmp_path / "straight", data_root)
    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(
        _command(script, spec, killed_dir, data_root, 0),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    step = _kill_after(process, killed_dir / "checkpoint.pt", steps=6)
    assert 6 <= step < 15 and not (killed_dir / "record.json").exists()
    resumed = _finish(
        script, spec, killed_dir, data_root, workers=1
    )  # and with a loader worker this time
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["train"]["history"] == straight["train"]["history"]
    assert (killed_dir / "predictions.csv").read_bytes() == (
        tmp_path / "straight" / "predictions.csv"
    ).read_bytes()
    final, reference = _final_model(killed_dir), _final_model(tmp_path / "straight")
    assert final.keys() == reference.keys()
    assert all(torch.equal(final[k], reference[k]) for k in final)


@pytest.mark.slow
def test_sigkill_and_resume_with_tensorboard_logs_each_step_exactly_once(
    script: Path, data_root: Path, tmp_path: Path
) -> None:
    """A run with --tensorboard, killed with SIGKILL after its step-6 checkpoint and resumed: each
    training scalar at each of the 15 steps once in its event file, the evaluation once at the last
    step; and the result, predictions and curve of a run without TensorBoard, to the byte."""
    spec = _spec(checkpoint_every=2)
    straight = _finish(script, spec, tmp_path / "straight", data_root)
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _command(script, spec, killed, data_root, 0, tensorboard=True),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    step = _kill_after(process, killed / "checkpoint.pt", steps=6)
    assert 6 <= step < 15 and (killed / EVENTS_FILE).is_file()
    resumed = _finish(script, spec, killed, data_root, tensorboard=True)
    for key in ("metrics", "evaluations"):
        assert resumed[key] == straight[key]
    assert resumed["train"]["history"] == straight["train"]["history"]
    for name in ("predictions.csv", TRAIN_STEPS_FILE):
        assert (killed / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name
    assert not (tmp_path / "straight" / EVENTS_FILE).exists()

    counts = Counter((s.tag, s.step) for s in read_scalars(killed / EVENTS_FILE))
    assert set(counts.values()) == {1}, [k for k, n in counts.items() if n > 1]
    loaded = EventAccumulator(str(killed))
    loaded.Reload()
    for tag in ("train/loss", "train/lr", "train/clips_per_s"):
        assert [s.step for s in loaded.Scalars(tag)] == list(range(1, 16)), tag
    assert [s.step for s in loaded.Scalars("train/epoch_loss")] == [5, 10, 15]
    curve = json.loads((killed / TRAIN_STEPS_FILE).read_text())
    assert [s.value for s in loaded.Scalars("train/loss")] == pytest.approx(curve["loss"], 1e-6)
    evaluation = resumed["evaluations"][0]
    (top1,) = loaded.Scalars(f"eval/{evaluation['dataset']}/{evaluation['split']}/top1")
    assert (top1.step, top1.value) == (15, pytest.approx(evaluation["top1"], rel=1e-6))


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(script: Path, data_root: Path, tmp_path: Path) -> None:
    spec = _spec(epochs=2, mixup=0.0, cutmix=0.0)  # mixup pairs samples within a device's batch
    single = _finish(script, spec, tmp_path / "single", data_root)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        *(_command(script, spec, tmp_path / "ddp", data_root, 0)[1:]),
    ]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "record.json").read_text())
    assert (
        ddp["world_size"] == 2
        and ddp["train"]["per_device_batch"] == 4
        and single["train"]["per_device_batch"] == 8
    )
    assert ddp["train"]["optimizer_steps"] == single["train"]["optimizer_steps"] == 10
    (evaluation,) = ddp["evaluations"]
    assert evaluation["videos"] == 80 and evaluation["skipped"] == 0
    rows, single_rows = _predictions(tmp_path / "ddp"), _predictions(tmp_path / "single")
    assert sorted(int(row["index"]) for row in rows) == list(range(80))  # every video exactly once
    for a, b in zip(ddp["train"]["history"], single["train"]["history"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    for key in ("top1", "top5", "mean_class"):
        assert ddp["metrics"][key] == pytest.approx(single["metrics"][key], abs=100 / 80 + 1e-6)
    top = [float(row["top_scores"].split()[0]) for row in rows]
    single_top = [float(row["top_scores"].split()[0]) for row in single_rows]
    assert torch.allclose(torch.tensor(top), torch.tensor(single_top), atol=1e-4)
