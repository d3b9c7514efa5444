"""64 processes (like a Slurm job array) writing into one store never corrupt it."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

from omnibench.config.spec import RunSpec
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.store.states import RECORDED as STATES

WRITERS = 64
ROUNDS = 10
SHARED = 1_000_000  # the seed of the run every writer prepares (the others: 0..63)


def _spec(seed: int) -> RunSpec:
    return RunSpec.from_dict({"protocol": "few_shot", "dataset": "synthetic", "seed": seed})


def _writer(root: str, index: int, barrier: mp.synchronize.Barrier) -> None:
    store, own, shared = RunStore(root), _spec(index), _spec(SHARED)
    barrier.wait()
    store.prepare("array", shared)  # every task prepares the same run too
    run_dir = store.prepare("array", own)
    for attempt in range(ROUNDS):
        store.write_status("array", own.run_id(), "running", job_id=f"900_{index}", attempt=attempt)
        store.write_status("array", shared.run_id(), STATES[attempt % 4], job_id=f"900_{index}")
    atomic_write_json(
        run_dir / "record.json", {"run_id": own.run_id(), "metrics": {"top1": float(index)}}
    )
    store.write_status("array", own.run_id(), "done")


def _reader(root: str, stop: mp.synchronize.Event, failures: mp.sharedctypes.Synchronized) -> None:
    store = RunStore(root)
    while not stop.is_set():
        for run in store.iter_runs("array"):
            try:
                status = store.read_status(run.suite, run.run_id)
                assert status is None or status.state in STATES
                json.loads((run.path / "spec.json").read_text())
            except Exception:  # noqa: BLE001 - any failure to read is a corruption
                with failures.get_lock():
                    failures.value += 1


def test_64_concurrent_writers_leave_a_consistent_store(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    barrier, stop, failures = ctx.Barrier(WRITERS), ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(str(tmp_path), stop, failures))
    reader.start()
    writers = [
        ctx.Process(target=_writer, args=(str(tmp_path), i, barrier)) for i in range(WRITERS)
    ]
    for proc in writers:
        proc.start()
    for proc in writers:
        proc.join(120)
    stop.set()
    reader.join(30)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    assert failures.value == 0, "a reader saw a partial or invalid file"
    store = RunStore(tmp_path)
    runs = list(store.iter_runs("array"))
    assert len(runs) == WRITERS + 1
    for index in range(WRITERS):
        run_id = _spec(index).run_id()
        status = store.read_status("array", run_id)
        assert (status.state, status.job_id, status.extra["attempt"]) == (
            "done",
            f"900_{index}",
            ROUNDS - 1,
        )
        assert store.read_record("array", run_id)["metrics"]["top1"] == index
    assert store.read_status("array", _spec(SHARED).run_id()).state in STATES
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")], (
        "temporary files left behind"
    )
