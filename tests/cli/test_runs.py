"""`omnibench run / status / ls / cancel / ablate` on a run store the tests fill themselves."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.store.revisions import computed_by
from omnibench.store.run_files import CACHE_FILES
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import Suite, load_suite
from tests.conftest import plant_lock

SUITE = """\
name: tiny
description: A small suite for the CLI tests
table: {paper_table: null, title: Tiny, layout: grid, rows: [model.name], columns: [dataset, \
protocol_options.shots], metrics: [top1]}
base:
  protocol: few_shot
  dataset: synthetic
  model: {backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 36}
  optim: {epochs: 1, batch_size: 4}
grid:
  - protocol_options.shots: [2, 4]
    model.name: [vificlip, xclip]
"""


@pytest.fixture()
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suites" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(SUITE)
    return path


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def _finish(store: RunStore, suite: Suite, index: int, top1: float = 50.0) -> str:
    spec = suite.specs[index]
    run_dir = store.prepare(suite.name, spec)
    record = {"run_id": spec.run_id(), "spec": spec.to_dict(), "metrics": {"top1": top1}}
    atomic_write_json(
        run_dir / "record.json", {**record, "computed_by": computed_by(record["spec"])}
    )
    store.write_status(suite.name, spec.run_id(), "done", job_id=f"77_{index}")
    return spec.run_id()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([*args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _rows(out: str) -> dict[str, list[str]]:
    """Body rows of a compact rich table (cells start under their headers): run id -> cell texts."""
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("run ") and " state" in line)
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S", header)]
    rows = {}
    for line in lines:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None])]
        if len(cells[0]) == 12 and cells[0].isalnum():
            rows[cells[0]] = cells
    return rows


# CPU of `omnibench run` over a finished 11-run suite: 1.0-1.2 s measured on 2026-12-07 (the store
# index, revision stamps and corrupt-file checks included); importing the data package (numpy, PIL
# for the synthetic benchmark) is ~0.47 s of it. The wall-clock promise stays 2 s.
CPU_BUDGET_S = 1.5


def test_rerunning_a_finished_suite_does_no_work_and_takes_under_2s(
    suite_file: Path, tmp_path: Path
) -> None:
    store, suite = RunStore(tmp_path / "results"), load_suite(suite_file)
    ids = [_finish(store, suite, i) for i in range(len(suite.specs))]
    before = _store_files(store)
    env = {**os.environ, "COLUMNS": "250", "OMNIBENCH_RESULTS": str(store.root)}
    command = [sys.executable, "-m", "omnibench", "run", str(suite_file)]
    timings, cpu = [], []
    for _ in range(3):  # best of three: the machine may be busy with other work
        used, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        timings.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if timings[-1] < 2.0 and cpu[-1] < CPU_BUDGET_S:
            break
    assert min(cpu) < CPU_BUDGET_S, f"re-running a finished suite used {min(cpu):.2f}s of CPU"
    overloaded = os.getloadavg()[0] > 2 * (
        os.cpu_count() or 1
    )  # others' work delays the wall clock, not ours
    assert min(timings) < 2.0 or overloaded, f"re-running a finished suite took {min(timings):.2f}s"
    assert "nothing to execute" in proc.stdout and all(i in proc.stdout for i in ids)
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    imported = {
        line.split("|")[-1].strip()
        for line in traced.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not {"torch", "open_clip", "decord"} & imported
    assert _store_files(store) == before  # no run touched: only the store's caches are written


def _store_files(store: RunStore) -> dict[Path, int]:
    """Every file of the store but its caches (the index, the expanded suite...), with its
    modification time."""
    caches = set(CACHE_FILES)
    return {
        p: p.stat().st_mtime_ns
        for p in store.root.rglob("*")
        if p.is_file() and p.name not in caches
    }


def test_status_shows_every_state_with_job_and_log(
    suite_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, suite = RunStore(tmp_path / "r"), load_suite(suite_file)
    done = _finish(store, suite, 0, top1=61.25)
    failed, running = suite.specs[1].run_id(), suite.specs[2].run_id()
    store.prepare("tiny", suite.specs[1])
    store.write_status("tiny", failed, "failed", job_id="80_1", error="CUDA out of memory\nmore")
    store.prepare("tiny", suite.specs[2])
    store.write_status("tiny", running, "running", job_id="80_2")
    plant_lock(store.run_dir("tiny", running), job_id="80_2", cluster="slurm")
    code, out = _cli(capsys, "status", str(suite_file), "--results", str(store.root), "--json")
    assert code == 0
    rows = {row["run_id"]: row for row in json.loads(out)}
    assert [rows[i]["state"] for i in (done, failed, running, suite.specs[3].run_id())] == [
        "done",
        "failed",
        "running",
        "new",
    ]
    assert (rows[done]["top1"], rows[failed]["error"], rows[running]["job_id"]) == (
        "61.25",
        "CUDA out of memory",
        "80_2",
    )
    assert rows[failed]["log"] == str(store.log_path("tiny", failed))
    code, out = _cli(capsys, "status", str(suite_file), "--results", str(store.root))
    assert code == 0
    for text in (
        "80_1",
        "80_2",
        "CUDA out of memory",
        "61.25",
        "1 new · 1 running · 1 done · 1 failed",
    ):
        assert text in out


def test_results_flag_beats_the_environment(
    suite_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suite = load_suite(suite_file)
    env_id = _finish(RunStore(tmp_path / "env"), suite, 0)
    flag_id = _finish(RunStore(tmp_path / "flag"), suite, 1)
    monkeypatch.setenv("OMNIBENCH_RESULTS", str(tmp_path / "env"))
    _, out = _cli(capsys, "ls", "runs", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [env_id]
    _, out = _cli(capsys, "ls", "runs", "--json", "--results", str(tmp_path / "flag"))
    assert [r["run_id"] for r in json.loads(out)] == [flag_id]
    monkeypatch.delenv("OMNIBENCH_RESULTS")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    _, out = _cli(capsys, "status")
    assert "no runs in results" in out


def test_dry_run_lists_runs_and_what_would_be_skipped(
    suite_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, suite = RunStore(tmp_path / "r"), load_suite(suite_file)
    done = _finish(store, suite, 0)
    code, out = _cli(capsys, "run", str(suite_file), "--results", str(store.root), "--dry-run")
    assert code == 0
    rows = _rows(out)
    assert set(rows) == {s.run_id() for s in suite.specs}
    assert rows[done][-2:] == ["done", "skip (done)"]
    assert all(cells[-2:] == ["new", "run"] for i, cells in rows.items() if i != done)
    assert "3 would execute, 1 skipped" in out
    assert not (store.root / "tiny" / suite.specs[1].run_id()).exists(), "a dry run must not write"
    code, out = _cli(
        capsys,
        "run",
        str(suite_file),
        "--results",
        str(store.root),
        "--dry-run",
        "--force",
        "-k",
        "2",
        "-m",
        "vificlip",
    )
    assert code == 0 and "rerun (--force)" in out and "1 would execute, 0 skipped" in out


def test_filters_and_names_give_did_you_mean(
    suite_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--results", str(tmp_path / "r"), "--dry-run"]
    code, out = _cli(capsys, "run", str(suite_file), "--dataset", "synthtic", *args)
    assert (
        code == 2
        and "--dataset synthtic: no run of suite 'tiny' has it (did you mean 'synthetic'?)" in out
    )
    code, out = _cli(capsys, "run", str(suite_file), "--shots", "two", *args)
    assert code == 2 and "--shots takes whole numbers" in out
    code, out = _cli(capsys, "ablate", "ratoi", *args)
    assert code == 2 and "unknown ablation 'ratoi' (did you mean 'ratio'?)" in out
    code, out = _cli(capsys, "run", "few-shoot", *args)
    assert code == 2 and "unknown suite 'few-shoot' (did you mean 'few-shot'?)" in out


def _fake_slurm(directory: Path, queued: list[str]) -> Path:
    """``squeue`` listing ``queued`` and an ``scancel`` that records its arguments."""
    log = directory / "scancel.args"
    (directory / "squeue").write_text("#!/bin/sh\n" + "".join(f"echo {job}\n" for job in queued))
    (directory / "scancel").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for tool in ("squeue", "scancel"):
        (directory / tool).chmod(0o755)
    return log


def test_cancel_scancels_the_queued_jobs(
    suite_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, suite = RunStore(tmp_path / "r"), load_suite(suite_file)
    _finish(store, suite, 0)
    for index, state, job in (
        (1, "running", "90_1"),
        (2, "pending", "90_2"),
        (3, "running", "4711"),
    ):
        store.prepare("tiny", suite.specs[index])
        store.write_status("tiny", suite.specs[index].run_id(), state, job_id=job)
    plant_lock(store.run_dir("tiny", suite.specs[1].run_id()), job_id="90_1", cluster="slurm")
    # 4711 is a local process on another host: not Slurm's, and no signal reaches it from here
    plant_lock(store.run_dir("tiny", suite.specs[3].run_id()), "node8", 4711, "4711", "local")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    code, out = _cli(capsys, "cancel", "tiny", "--results", str(store.root))
    assert code == 2 and "squeue not found" in out
    log = _fake_slurm(bin_dir, ["90_1", "90_2", "12_0"])
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    code, out = _cli(capsys, "cancel", "tiny", "--results", str(store.root))
    held = suite.specs[3].run_id()
    assert code == 1 and "cancelled 2 runs" in out
    assert (
        f"not stopped: run {held} is held by pid 4711 on node8, job 4711 since "
        f"2026-01-05T09:30:00+00:00, on another host: stop it there; if that process is gone, "
        f"omnibench unlock tiny --run {held}"
    ) in " ".join(out.split())
    assert log.read_text().split() == ["90_1", "90_2"]
    states = [store.read_status("tiny", s.run_id()) for s in suite.specs]
    assert [s.state for s in states] == ["done", "failed", "failed", "running"]
    assert states[1].error == "cancelled (scancel 90_1)"
    (store.run_dir("tiny", suite.specs[1].run_id()) / "lock.json").unlink()  # the job released it
    store.write_status("tiny", suite.specs[1].run_id(), "pending", job_id="91_0")  # queued again
    _fake_slurm(bin_dir, [])
    code, out = _cli(capsys, "cancel", "tiny", "--results", str(store.root))
    assert code == 1 and "cancelled" not in out and "no job in the Slurm queue" in out
    assert len(log.read_text().splitlines()) == 1


def test_ls_suites_lists_the_built_in_suites(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "ls", "suites")
    assert code == 0
    for name in ("supervised", "few-shot", "zero-shot"):
        assert name in out


def test_interrupted_runs_resume_and_queued_jobs_are_left_alone(
    suite_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, suite = RunStore(tmp_path / "r"), load_suite(suite_file)
    interrupted, queued, failed = (s.run_id() for s in suite.specs[:3])
    store.prepare("tiny", suite.specs[0])
    store.write_status(
        "tiny", interrupted, "running", job_id="55_0"
    )  # killed: no longer in the queue
    (store.run_dir("tiny", interrupted) / "checkpoint.pt").write_bytes(b"x")
    store.prepare("tiny", suite.specs[1])
    store.write_status("tiny", queued, "pending", job_id="55_1")
    store.prepare("tiny", suite.specs[2])
    store.write_status("tiny", failed, "failed", error="boom")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text(
        "#!/bin/sh\necho 55_1\necho 56_0\n"
    )  # Slurm still holds task 55_1
    (bin_dir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for extra in ([], ["--force"]):
        code, out = _cli(
            capsys, "run", str(suite_file), "--results", str(store.root), "--dry-run", *extra
        )
        rows = _rows(out)
        assert code == 0
        assert rows[queued][-2:] == ["pending", "skip (job in queue)"]
        assert rows[interrupted][-2:] == [  # no process holds it: dead, resumed
            "dead",
            "rerun (--force)" if extra else "resume from checkpoint",
        ]
        assert rows[failed][-2:] == ["failed", "rerun (--force)" if extra else "run"]
