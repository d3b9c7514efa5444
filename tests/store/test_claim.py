"""The exclusive claim of a run, temporary names and the clean-up of killed writers' leftovers."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnibench.atomic import atomic_write_text, remove_leftovers, temp_path
from omnibench.errors import OmniBenchError
from omnibench.process import ProcessId
from omnibench.store.claim import (
    LOCK_FILE,
    Holder,
    claim,
    claimed,
    holder_alive,
    read_holder,
    release,
)


def ended_process() -> ProcessId:
    """A process of this host that has ended (and been reaped)."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return ProcessId(ProcessId.current().host, int(child.stdout))


def write_lock(
    run_dir: Path, process: ProcessId, job_id: str | None = None, cluster: str | None = None
) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    holder = Holder(process, job_id, cluster, "2026-01-01T00:00:00+00:00", "f" * 16)
    (run_dir / LOCK_FILE).write_text(json.dumps(holder.to_dict()))


@pytest.fixture()
def sleeper() -> ProcessId:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield ProcessId.from_dict({"host": ProcessId.current().host, "pid": proc.pid})
    proc.kill()
    proc.wait()


def test_a_claim_is_exclusive_and_released(tmp_path: Path, sleeper: ProcessId) -> None:
    mine, ours = claim(tmp_path)
    assert ours and read_holder(tmp_path) == mine and mine.process == ProcessId.current()
    other, ours_again = claim(tmp_path)  # this live process holds it
    assert not ours_again and other == mine
    release(tmp_path, mine)
    assert read_holder(tmp_path) is None
    write_lock(tmp_path, sleeper)
    with claimed(tmp_path) as holder:
        assert holder is not None and holder.process.pid == sleeper.pid  # a live holder keeps it
    assert read_holder(tmp_path).process.pid == sleeper.pid  # and its lock stays


def test_a_lock_is_taken_over_only_when_its_holder_is_provably_gone(
    tmp_path: Path, sleeper: ProcessId
) -> None:
    dead = ended_process()
    write_lock(tmp_path / "dead", dead)
    with claimed(tmp_path / "dead") as holder:
        assert holder is None and read_holder(tmp_path / "dead").process == ProcessId.current()
    assert read_holder(tmp_path / "dead") is None
    reused = ProcessId(sleeper.host, sleeper.pid, "0000:1")  # the pid now names a newer process
    assert reused.alive() is False and sleeper.alive() is True
    write_lock(tmp_path / "elsewhere", ProcessId("another-host", os.getpid()))
    _, ours = claim(tmp_path / "elsewhere")
    assert not ours  # another host: it cannot be proven gone
    write_lock(tmp_path / "requeued", ProcessId("node7", 1234), job_id="900_3", cluster="slurm")
    assert (
        holder_alive(read_holder(tmp_path / "requeued"), job_id="900_3") is False
    )  # an earlier start of this job
    _, ours = claim(tmp_path / "requeued", job_id="900_3", cluster="slurm")
    assert ours


def test_a_slurm_holder_is_gone_once_squeue_no_longer_lists_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    squeue = bin_dir / "squeue"
    squeue.write_text("#!/bin/sh\necho 55_1\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    write_lock(tmp_path / "queued", ProcessId("node7", 1), job_id="55_1", cluster="slurm")
    write_lock(tmp_path / "ended", ProcessId("node7", 1), job_id="55_2", cluster="slurm")
    write_lock(
        tmp_path / "local", ProcessId("login2", 1), job_id="55_2", cluster="local"
    )  # a pid, not a Slurm job
    assert [claim(tmp_path / name)[1] for name in ("queued", "ended", "local")] == [
        False,
        True,
        False,
    ]


def test_an_invalid_lock_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("[1, 2]")
    with pytest.raises(OmniBenchError, match=r"lock.json: not a run lock \(no host and pid\)"):
        claim(tmp_path)


def _race(
    run_dir: str, barrier: mp.synchronize.Barrier, wins: mp.sharedctypes.Synchronized
) -> None:
    barrier.wait()
    holder, ours = claim(Path(run_dir))
    if ours:
        with wins.get_lock():
            wins.value += 1
    # every process stays alive until all have tried: a winner is never provably gone
    barrier.wait()


def test_racing_processes_take_a_dead_lock_over_exactly_once(tmp_path: Path) -> None:
    write_lock(tmp_path, ended_process())
    ctx = mp.get_context("fork")
    barrier, wins = ctx.Barrier(12), ctx.Value("i", 0)
    procs = [ctx.Process(target=_race, args=(str(tmp_path), barrier, wins)) for _ in range(12)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0] * 12
    assert wins.value == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_temporary_names_are_unique_and_leftovers_of_dead_writers_are_removed(
    tmp_path: Path,
) -> None:
    target = tmp_path / "checkpoint.pt"
    names = {temp_path(target).name for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(f".checkpoint.pt.{os.getpid()}@") for n in names)
    dead, live = ended_process(), ProcessId.current()
    leftover = tmp_path / f".checkpoint.pt.{dead.pid}@{dead.host}.0123abcd.tmp"
    in_flight = tmp_path / f".status.json.{live.pid}@{live.host}.0123abcd.tmp"
    elsewhere = tmp_path / f".record.json.{dead.pid}@other-node.0123abcd.tmp"
    trash = tmp_path / f".0123456789ab.{dead.pid}@{dead.host}.89abcdef.tmp"  # a killed clear()
    for path in (leftover, in_flight, elsewhere):
        path.write_bytes(b"partial")
    trash.mkdir()
    (trash / "record.json").write_text("{}")
    atomic_write_text(tmp_path / "kept.txt", "kept")
    assert sorted(remove_leftovers(tmp_path)) == sorted([leftover, trash])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [in_flight.name, elsewhere.name, "kept.txt"]
    )


def test_a_claim_removes_what_killed_writers_left_in_the_run(tmp_path: Path) -> None:
    dead = ended_process()
    leftover = tmp_path / f".checkpoint.pt.{dead.pid}@{dead.host}.0123abcd.tmp"
    tmp_path.mkdir(exist_ok=True)
    leftover.write_bytes(b"half a checkpoint")
    with claimed(tmp_path) as holder:
        assert holder is None and not leftover.exists()
