"""Against a real Slurm (slurm/local-cluster.sh start): job arrays through the CLI, status as it
changes, and runs that are requeued or cancelled mid-training resuming from their checkpoint.

Skipped when no cluster answers ``sinfo``. The jobs use the ``local`` profile (slurm/local.yaml).
"""

from __future__ import annotations

import json
import os
import shutil
import string
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omnibench.suite.load import load_suite

REPO = Path(__file__).resolve().parents[2]
LOCAL_CONF = REPO / "slurm" / ".cluster" / "etc" / "slurm.conf"
CLASSES = ("object moving left", "object moving right", "object growing")
SUITE = string.Template("""\
name: $name
description: one tiny supervised run
table: {paper_table: null, title: Resume, layout: grid, rows: [model.name], columns: [dataset], \
metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {name: omniclip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: $epochs, batch_size: $batch, lr: 1.0e-3, warmup_epochs: 1, mixup: 0.0, \
cutmix: 0.0, precision: fp32}
grid:
  seed: [7]
""")
# One supervised run long enough (80 epochs of 8 steps, ~10 s on an idle machine) that it is
# still training when Slurm kills it: submitit ignores SIGTERM, so a requeued or cancelled job
# goes on until SIGKILL, KillWait (2 s on the local cluster) later.
LONG_SUITE = SUITE.substitute(name="resume", epochs=80, batch=3)
# Two tasks of one job train one run together (the engine's DDP, gloo on CPU), as a job with
# gpus_per_node: 2 would on a GPU cluster.
DDP_SUITE = SUITE.substitute(name="ddp", epochs=2, batch=4)
DDP_PROFILE = """\
partition: debug
tasks_per_node: 2
cpus_per_task: 1
mem_gb: 1
time_min: 10
signal_delay_s: 60
setup: [export OMP_NUM_THREADS=1]
"""


def _slurm_env() -> dict[str, str]:
    env = dict(os.environ, COLUMNS="250", OMP_NUM_THREADS="1")
    if "SLURM_CONF" not in env and LOCAL_CONF.is_file():
        env["SLURM_CONF"] = str(LOCAL_CONF)
    return env


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        result = subprocess.run(
            ["sinfo", "-h"], env=_slurm_env(), capture_output=True, timeout=15, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not _cluster_answers(),
        reason="no Slurm cluster answers sinfo (slurm/local-cluster.sh start)",
    ),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omnibench.data import SynthConfig, generate_synthetic

    root = tmp_path_factory.mktemp("slurm-data")
    generate_synthetic(
        root / "synthetic", SynthConfig(classes=CLASSES, videos_per_class=16, frames=8, size=32)
    )
    return root


@pytest.fixture(scope="module")
def resume_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suites") / "resume.yaml"
    path.write_text(LONG_SUITE)
    return path


def omnibench(
    *args: str, background: bool = False
) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, with the cluster's SLURM_CONF."""
    command = [sys.executable, "-m", "omnibench", *args]
    if background:
        return subprocess.Popen(
            command,
            env=_slurm_env(),
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    return subprocess.run(
        command,
        env=_slurm_env(),
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


def status_rows(suite: str, results: Path, *settings: str) -> list[dict]:
    result = omnibench("status", suite, "--results", str(results), "--json", *settings)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, poll: float = 0.2
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def finish(process: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(
            f"omnibench run did not finish within {timeout:.0f}s:\n{out}"
        ) from None
    return process.returncode, out


def run_dir_of(results: Path, suite: str) -> Path:
    runs = [p for p in (results / suite).iterdir() if (p / "spec.json").is_file()]
    assert len(runs) == 1
    return runs[0]


def run_args(
    suite: str, results: Path, data_root: Path, executor: str = "slurm", profile: str = "local"
) -> list[str]:
    resources = ["--profile", profile] if executor == "slurm" else []
    return [
        "run",
        suite,
        "--executor",
        executor,
        *resources,
        "--results",
        str(results),
        "--data-root",
        str(data_root),
        "--workers",
        "0",
        "--max-parallel",
        "2",
    ]


@pytest.mark.slow
def test_demo_suite_as_one_job_array_with_live_status(tmp_path: Path, data_root: Path) -> None:
    results = tmp_path / "results"
    cheap = ["--set", "optim.epochs=2"]  # the pipeline through Slurm, not the demo's accuracies
    count = len(load_suite("demo").specs)
    process = omnibench(*run_args("demo", results, data_root), *cheap, background=True)
    seen: dict[str, list[str]] = {}
    while process.poll() is None:
        if not results.is_dir():  # a named store that does not exist yet is an error, by design
            time.sleep(0.2)
            continue
        for row in status_rows("demo", results, *cheap):
            states = seen.setdefault(row["run_id"], [])
            if not states or states[-1] != row["state"]:
                states.append(row["state"])
        time.sleep(0.5)
    code, out = finish(process)

    assert code == 0, out
    rows = status_rows("demo", results, *cheap)
    assert len(rows) == count and {row["state"] for row in rows} == {"done"}, (rows, out)
    arrays = {row["job_id"].split("_")[0] for row in rows}
    assert len(arrays) == 1, f"expected one job array, got {arrays}"  # all runs: one sbatch
    assert sorted(int(row["job_id"].split("_")[1]) for row in rows) == list(range(count))
    observed = {state for states in seen.values() for state in states}
    assert {"pending", "running", "done"} <= observed, seen
    for states in seen.values():  # states only move forward
        order = [s for s in ("new", "pending", "running", "done") if s in states]
        assert states == order, seen
    assert f"{count} done" in out
    again = omnibench(
        *run_args("demo", results, data_root), *cheap
    )  # finished suite: nothing is submitted
    assert again.returncode == 0 and "nothing to execute" in again.stdout


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, resume_suite: Path, data_root: Path
) -> dict:
    """The record of the run executed in one go (a local process, one thread like the jobs)."""
    results = tmp_path_factory.mktemp("uninterrupted")
    done = omnibench(*run_args(str(resume_suite), results, data_root, executor="local"))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((run_dir_of(results, "resume") / "record.json").read_text())


def start_and_wait_for_checkpoint(
    suite: Path, results: Path, data_root: Path
) -> tuple[subprocess.Popen[str], Path, str]:
    """Submit the long run; return once it is training and has written a checkpoint."""
    process = omnibench(*run_args(str(suite), results, data_root), background=True)
    # the run's directory exists a moment before its spec.json: wait for the file
    wait_until(lambda: any((results / "resume").glob("*/spec.json")), 60, "the run's spec.json")
    run_dir = run_dir_of(results, "resume")
    wait_until(lambda: (run_dir / "checkpoint.pt").is_file(), 120, "a first checkpoint")
    assert not (run_dir / "record.json").exists(), "the run finished before it could be interrupted"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "running"
    return process, run_dir, status["job_id"]


def assert_resumed_to_same_result(run_dir: Path, reference: dict) -> None:
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "done" and status["starts"] == 2, status
    log = (run_dir / "log.txt").read_text()
    assert "start #2" in log and "resumed from" in log, log
    record = json.loads((run_dir / "record.json").read_text())
    assert record["metrics"] == reference["metrics"]
    assert record["evaluations"] == reference["evaluations"]


INTERRUPTIONS = {
    "requeue": ["scontrol", "requeue"],  # the cluster requeues the job (node failure, admin)
    "preemption": [
        "scancel",
        "--signal=USR2",
    ],  # what Slurm sends before a time limit or preemption
}


@pytest.mark.slow
@pytest.mark.parametrize("interruption", list(INTERRUPTIONS))
def test_interrupted_job_requeues_and_resumes_from_its_checkpoint(
    tmp_path: Path, resume_suite: Path, data_root: Path, uninterrupted: dict, interruption: str
) -> None:
    results = tmp_path / "results"
    process, run_dir, job_id = start_and_wait_for_checkpoint(resume_suite, results, data_root)

    subprocess.run(
        [*INTERRUPTIONS[interruption], job_id], env=_slurm_env(), check=True, capture_output=True
    )
    code, out = finish(process)

    assert code == 0, out
    status = json.loads((run_dir / "status.json").read_text())
    assert status["job_id"] == job_id  # the same job, requeued
    if interruption == "preemption":  # submitit called RunJob.checkpoint, which requeued the job
        assert status["requeued"] is True
    assert_resumed_to_same_result(run_dir, uninterrupted)


@pytest.mark.slow
def test_cancelled_run_resumes_when_submitted_again(
    tmp_path: Path, resume_suite: Path, data_root: Path, uninterrupted: dict
) -> None:
    results = tmp_path / "results"
    process, run_dir, job_id = start_and_wait_for_checkpoint(resume_suite, results, data_root)

    cancel = omnibench("cancel", str(resume_suite), "--results", str(results))
    assert cancel.returncode == 0 and job_id in cancel.stdout, cancel.stdout + cancel.stderr
    code, out = finish(process)
    assert code == 1, out  # the first submission ends with the run failed (cancelled)
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"

    again = omnibench(*run_args(str(resume_suite), results, data_root))
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((run_dir / "status.json").read_text())["job_id"] != job_id
    assert_resumed_to_same_result(run_dir, uninterrupted)


@pytest.mark.slow
def test_two_tasks_train_one_run_with_ddp(tmp_path: Path, data_root: Path) -> None:
    suite, profile, results = (
        tmp_path / "ddp.yaml",
        tmp_path / "two-tasks.yaml",
        tmp_path / "results",
    )
    suite.write_text(DDP_SUITE)
    profile.write_text(DDP_PROFILE)
    done = omnibench(*run_args(str(suite), results, data_root, profile=str(profile)))

    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(results, "ddp")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["train"]["world_size"] == 2
    log = (run_dir / "log.txt").read_text()
    assert (
        log.count("start #1") == 1 and "(2 process(es)" in log
    )  # rank 0 alone writes status and log
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
