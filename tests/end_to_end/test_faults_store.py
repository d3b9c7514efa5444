"""A shared run store as a cluster leaves it: corrupt files, runs no process holds, locks held on
other hosts, a colleague's folders, a store copied elsewhere, links planted in it, a mistyped
``--results``.

Stores are filled by hand, file by file, as the faults leave them; each command then runs as a
user would call it (``main`` in this process, or a separate process where permissions matter).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.store.revisions import computed_by
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import Suite, load_suite
from tests.conftest import cpu_options, plant_lock, write_tiny_suite

CORRUPT = {  # what a fault leaves in a file -> what omnibench says is wrong with it
    ("record.json", "{}"): "record.json: not a run record (no 'run_id')",
    ("record.json", "[]"): "record.json: not a run record (a JSON list, not an object)",
    ("record.json", '{"metrics": "x"}'): "record.json: not a run record (no 'run_id')",
    ("record.json", '{"run_id": "RUN", "metrics": "x"}'): "no 'metrics' mapping",
    ("record.json", '{"run_id": "RUN", "metrics": {"top1": 5'): "record.json: not valid JSON",
    ("record.json", '{"run_id": "RUN", "metrics": {"top1": "5"}}'): "are not numbers",
    ("record.json", '{"run_id": "other", "metrics": {"top1": 5}}'): "the record of run other",
    ("status.json", '{"state": "do'): "status.json: not valid JSON",
    ("status.json", "[1]"): "status.json: not a run status (a JSON list, not an object)",
    ("spec.json", "\x00\x01"): "spec.json: not valid JSON",
    ("lock.json", "{}"): "lock.json: not a run lock (no host and pid)",
}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out, out
    return code, " ".join(out.split())  # rich wraps long lines


def make_suite(directory: Path, name: str, seeds: list[int] | None = None) -> Suite:
    return load_suite(write_tiny_suite(directory, name, seeds or [1, 2, 3, 4]))


def finish(store: RunStore, suite: Suite, index: int, top1: float) -> str:
    """Run ``index`` of ``suite`` done with ``top1``, as a finished run leaves it."""
    spec = suite.specs[index]
    run_dir = store.prepare(suite.name, spec)
    record = {
        "run_id": spec.run_id(),
        "metrics": {"top1": top1},
        "computed_by": computed_by({}),  # today's stamp for a record without a spec: not stale
    }
    atomic_write_json(run_dir / "record.json", record)
    store.write_status(suite.name, spec.run_id(), "done")
    store.remember_suite(suite.name, suite.path)
    return spec.run_id()


@pytest.fixture()
def two_suites(tmp_path: Path) -> tuple[RunStore, Suite, Suite]:
    """Suite ``four`` with runs done at 10, 20, 30, 40 and suite ``other`` with one run done."""
    store = RunStore(tmp_path / "results")
    four, other = make_suite(tmp_path, "four"), make_suite(tmp_path, "other")
    for index in range(4):
        finish(store, four, index, 10.0 * (index + 1))
    finish(store, other, 0, 77.0)
    return store, four, other


@pytest.mark.parametrize(("file", "text"), list(CORRUPT), ids=lambda v: v[:12])
def test_one_corrupt_file_is_shown_where_it_is_and_blocks_nothing_else(
    two_suites: tuple[RunStore, Suite, Suite],
    file: str,
    text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, four, other = two_suites
    bad = four.specs[1].run_id()
    path = store.run_dir("four", bad) / file
    path.write_text(text.replace("RUN", bad))
    results = ["--results", str(store.root)]
    code, out = cli(capsys, "status", str(four.path), *results)
    assert code == 0 and "3 done · 1 corrupt" in out
    assert f"{bad} corrupt: {path}" in out and CORRUPT[(file, text)] in out
    assert f"omnibench rm four --run {bad} (or run --force) clears the run" in out
    code, out = cli(capsys, "status", str(four.path), *results, "--json")
    states = {row["run_id"]: row["state"] for row in json.loads(out)}
    assert list(states.values()).count("corrupt") == 1 and states[bad] == "corrupt"
    code, out = cli(capsys, "ls", "runs", *results)  # the whole store, every suite
    assert code == 0 and "4 done · 1 corrupt" in out and "77.00" in out
    code, out = cli(capsys, "report", *results, "--json")  # every suite of the store
    tables = {table["suite"]: table for table in json.loads(out)}
    cell = next(c for c in tables["four"]["cells"] if c["source"] == "omnibench")
    assert (cell["mean"], cell["n"]) == (pytest.approx(80 / 3), 3)  # the three readable runs
    footer = " ".join(tables["four"]["footer"])
    assert "1 corrupt run: a file of the run cannot be read (not shown;" in footer
    assert {c["mean"] for c in tables["other"]["cells"]} == {77.0}
    code, out = cli(capsys, "run", str(four.path), *results, "--dry-run")
    assert code == 0 and "skip (corrupt: see below)" in out and "0 would execute" in out
    code, out = cli(capsys, "run", str(four.path), *results, "--dry-run", "--force")
    assert code == 0 and "rerun (--force clears the corrupt run)" in out
    code, out = cli(capsys, "rm", "four", "--run", bad[:6], *results, "--yes")
    assert code == 0 and f"{bad} (corrupt)" in out and not store.run_dir("four", bad).exists()
    code, out = cli(capsys, "status", str(four.path), *results)
    assert "1 new · 3 done" in out


def test_a_running_run_that_no_process_holds_is_dead_everywhere(
    two_suites: tuple[RunStore, Suite, Suite],
    small_data_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, four, _ = two_suites
    orphan = four.specs[2].run_id()
    shutil.rmtree(store.run_dir("four", orphan))
    store.prepare("four", four.specs[2])
    store.write_status("four", orphan, "running", host="vm")  # its process died, its lock gone
    results = ["--results", str(store.root)]
    code, out = cli(capsys, "status", str(four.path), *results)
    assert "1 dead · 3 done" in out
    assert f"{orphan} dead: no process holds it (no lock.json): it was killed or lost its" in out
    code, out = cli(capsys, "run", str(four.path), *results, "--dry-run")
    assert f"{orphan} 3 dead run " in out and "1 would execute, 3 skipped" in out
    code, out = cli(capsys, "cancel", "four", *results)
    assert code == 0 and f"marked 1 dead run failed (their process is gone): {orphan}" in out
    assert "no process holds it" in store.read_status("four", orphan).error
    store.write_status("four", orphan, "running")  # dead again: this time run executes it
    code, out = cli(capsys, "run", str(four.path), *results, *cpu_options(small_data_root))
    assert code == 0 and "4 done" in out and store.is_done("four", orphan)


def test_force_clears_a_corrupt_run_and_runs_it_again(
    tmp_path: Path, small_data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, one = RunStore(tmp_path / "results"), make_suite(tmp_path, "one", seeds=[1])
    run_id = finish(store, one, 0, 10.0)
    (store.run_dir("one", run_id) / "record.json").write_text('{"run_id": "')  # truncated
    results = ["--results", str(store.root), *cpu_options(small_data_root)]
    code, out = cli(capsys, "run", str(one.path), *results)
    assert code == 1 and "1 corrupt" in out and "nothing to execute" in out
    code, out = cli(capsys, "run", str(one.path), *results, "--force")
    assert code == 0 and "1 done" in out
    assert store.read_record("one", run_id)["metrics"]["top1"] != 10.0  # evaluated anew


def test_a_lock_held_on_another_host_is_named_everywhere_and_can_be_taken_over(
    two_suites: tuple[RunStore, Suite, Suite],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, four, _ = two_suites
    held = four.specs[3].run_id()
    shutil.rmtree(store.run_dir("four", held))
    store.prepare("four", four.specs[3])
    store.write_status("four", held, "running", job_id="6161", host="node7")
    plant_lock(store.run_dir("four", held), "node7", 6161, "6161", "local")
    results = ["--results", str(store.root)]
    holder = "pid 6161 on node7, job 6161 since 2026-01-05T09:30:00+00:00"
    code, out = cli(capsys, "status", str(four.path), *results)
    assert "1 running · 3 done" in out
    unlock = f"omnibench unlock four --run {held}"
    assert f"{held} held by {holder}; if that process is gone: {unlock}" in out
    code, out = cli(capsys, "run", str(four.path), *results, "--dry-run")
    assert "skip (held by pid 6161 on node7)" in out and "0 would execute, 4 skipped" in out
    code, out = cli(capsys, "run", str(four.path), *results)  # the real run agrees with it
    assert code == 0 and "nothing to execute" in out and f"{held} held by {holder}" in out
    code, out = cli(capsys, "cancel", "four", *results)
    assert code == 1 and f"not stopped: run {held} is held by {holder}, on another host" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out = cli(capsys, "unlock", "four", *results)  # asks first; the answer is no
    assert code == 1 and (store.run_dir("four", held) / "lock.json").exists()
    code, out = cli(capsys, "unlock", "four", "--run", held[:5], *results, "--yes")
    assert code == 0 and f"run {held}: held by {holder}" in out and "unlocked 1 run" in out
    assert not (store.run_dir("four", held) / "lock.json").exists()
    status = store.read_status("four", held)
    assert status.state == "failed" and status.error.startswith(f"{holder} declared gone")
    code, out = cli(capsys, "run", str(four.path), *results, "--dry-run")
    assert "1 would execute, 3 skipped" in out


def test_dry_run_and_run_agree_on_a_slurm_holder_that_left_the_queue(
    two_suites: tuple[RunStore, Suite, Suite],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Slurm job on another node holds a run: left alone while ``squeue`` lists it, taken over
    (as the claim itself would) once it does not."""
    store, four, _ = two_suites
    held = four.specs[3].run_id()
    shutil.rmtree(store.run_dir("four", held))
    store.prepare("four", four.specs[3])
    store.write_status("four", held, "running", job_id="7001_3")
    plant_lock(store.run_dir("four", held), "node9", 77, "7001_3", "slurm")
    squeue = tmp_path / "bin" / "squeue"
    squeue.parent.mkdir()
    monkeypatch.setenv("PATH", f"{squeue.parent}{os.pathsep}{os.environ['PATH']}")
    for listed, action in (("echo 7001_3", "skip (job in queue)"), ("true", "run")):
        squeue.write_text(f"#!/bin/sh\n{listed}\n")
        squeue.chmod(0o755)
        code, out = cli(capsys, "run", str(four.path), "--results", str(store.root), "--dry-run")
        assert f"{held} 4 running {action}" in out


def test_unlock_never_takes_a_lock_whose_holder_runs_here(
    two_suites: tuple[RunStore, Suite, Suite], capsys: pytest.CaptureFixture[str]
) -> None:
    store, four, _ = two_suites
    run_dir = store.run_dir("four", four.specs[0].run_id())
    plant_lock(run_dir, os.uname().nodename, os.getpid())  # this very process: alive
    code, out = cli(capsys, "unlock", "four", "--results", str(store.root), "--yes")
    assert code == 1 and "which still runs (omnibench cancel four stops it)" in out
    assert (run_dir / "lock.json").exists()


def test_a_colleagues_suite_folder_is_named_before_anything_runs(
    two_suites: tuple[RunStore, Suite, Suite], unprivileged: list[str], tmp_path: Path
) -> None:
    store, four, _ = two_suites
    shutil.rmtree(store.run_dir("four", four.specs[0].run_id()))
    (store.root / "four").chmod(0o555)
    env = {**os.environ, "COLUMNS": "250", "HF_HUB_OFFLINE": "1"}
    common = [str(four.path), "--results", str(store.root), "--data-root", str(tmp_path)]
    for extra in (["--dry-run"], []):
        proc = subprocess.run(
            [*unprivileged, sys.executable, "-m", "omnibench", "run", *common, *extra],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        out = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode == 2 and "Traceback" not in out, out
        assert (
            f"run store folder {store.root / 'four'} belongs to root and is not writable by this "
            "user: use your own --results, or ask its owner to let you write it"
        ) in out
    (store.root / "four").chmod(0o755)


def test_a_copied_store_shows_its_own_logs(
    two_suites: tuple[RunStore, Suite, Suite], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, four, _ = two_suites
    run_id = four.specs[0].run_id()
    status = json.loads((store.run_dir("four", run_id) / "status.json").read_text())
    assert status["log"] == "log.txt"  # relative to the run's folder
    status["log"] = str(store.run_dir("four", run_id) / "log.txt")  # as older versions wrote it
    (store.run_dir("four", run_id) / "status.json").write_text(json.dumps(status))
    store.log_path("four", run_id).write_text("written in the original store\n")
    copy = tmp_path / "copy"
    shutil.copytree(store.root, copy)
    shutil.rmtree(store.root)
    (copy / "four" / run_id / "log.txt").write_text("the copy's own log\n")
    code, out = cli(capsys, "status", "four", "--run", run_id, "--results", str(copy))
    assert code == 0 and "the copy's own log" in out and "original" not in out
    assert f"log {copy / 'four' / run_id / 'log.txt'}" in out or "copy/four" in out


def test_status_never_prints_a_log_through_a_planted_link(
    two_suites: tuple[RunStore, Suite, Suite], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, four, _ = two_suites
    secret = tmp_path / "secret.txt"
    secret.write_text("a line from outside the store\n")
    run_id = four.specs[0].run_id()
    store.log_path("four", run_id).unlink(missing_ok=True)
    store.log_path("four", run_id).symlink_to(secret)
    code, out = cli(capsys, "status", "four", "--run", run_id, "--results", str(store.root))
    assert code == 0 and "outside the store" not in out and "is a symbolic link" in out


def test_read_commands_name_a_mistyped_store(
    two_suites: tuple[RunStore, Suite, Suite], capsys: pytest.CaptureFixture[str]
) -> None:
    store, four, _ = two_suites
    typo = store.root.parent / "resluts"
    for command in (
        ["status", str(four.path)],
        ["status", "four"],
        ["ls", "runs"],
        ["report"],
        ["rm", "four"],
        ["cancel", "four"],
        ["unlock", "four"],
    ):
        code, out = cli(capsys, *command, "--results", str(typo))
        assert code == 2 and f"run store {typo} does not exist (change --results {typo})" in out


def test_report_of_the_whole_store_skips_a_suite_whose_file_moved(
    two_suites: tuple[RunStore, Suite, Suite], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, four, other = two_suites
    other.path.rename(tmp_path / "moved.yaml")
    code, out = cli(capsys, "report", "--results", str(store.root))
    assert code == 0 and f"skipped suite 'other': suite 'other' was run from {other.path}" in out
    assert "suite four: 4 runs — 4 done." in out
