"""Stopping a suite's runs (``omnibench cancel``) and taking over the claims of runs whose holder
is gone (``omnibench unlock``).

A run held by a live process on this host gets SIGTERM and records its end; a queued or running
Slurm job is ``scancel``-ed; a ``dead`` run is marked failed. A process on another host cannot be
signalled or seen from here: ``cancel`` names it, and once the user knows it is gone, ``unlock``
removes its claim (``lock.json``) and marks the run failed, so ``omnibench run`` resumes it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Sequence

from omnibench import slurm_client
from omnibench.errors import CorruptFileError, OmniBenchError
from omnibench.process import hostname
from omnibench.store.claim import Holder, holder_alive, take_over
from omnibench.store.run_files import LOCK_FILE
from omnibench.store.run_store import RunStore
from omnibench.store.states import ACTIVE, RunState
from omnibench.store.survey import holder_liveness, judged_state, run_holder

STOP_WAIT_S = 30.0  # how long ``cancel`` waits for a stopped process to record its end


@dataclasses.dataclass
class Cancellation:
    """What ``omnibench cancel`` did: Slurm jobs cancelled, local processes stopped, dead runs
    marked failed, runs whose recorded Slurm job is gone from the queue, and runs held by a process
    on another host (which cannot be signalled from here)."""

    slurm: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (run id, job id)
    stopped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (run id, process)
    dead: list[str] = dataclasses.field(default_factory=list)
    gone: list[str] = dataclasses.field(default_factory=list)
    elsewhere: list[tuple[str, Holder]] = dataclasses.field(default_factory=list)


def cancel_runs(store: RunStore, suite: str) -> Cancellation:
    """Stop the suite's queued and running runs and mark them ``failed``.

    A run held by a live process on this host (inline, local executor) gets SIGTERM (the process
    records the end); a dead one is marked failed; queued or running Slurm jobs that ``squeue``
    lists are ``scancel``-ed (a local process's id is not a Slurm job); a run held by a process on
    another host is named (``omnibench unlock`` takes it over once that process is known gone)."""
    done, local, queued = Cancellation(), [], []
    for run in store.iter_runs(suite):
        state, status, reason = judged_state(store, suite, run.run_id)
        holder = run_holder(store, suite, run.run_id) if state in (*ACTIVE, RunState.DEAD) else None
        if state == RunState.DEAD:
            store.write_status(suite, run.run_id, RunState.FAILED, error=reason)
            done.dead.append(run.run_id)
        elif holder is not None and holder.cluster != "slurm" and holder_alive(holder):
            local.append((run.run_id, holder))
        elif holder is not None and holder.cluster != "slurm":
            done.elsewhere.append((run.run_id, holder))
        elif state in ACTIVE and status is not None and status.job_id:
            queued.append((run.run_id, status.job_id))
    done.stopped = _stop_processes(store, suite, local)
    done.slurm, done.gone = _cancel_slurm(store, suite, queued)
    return done


def _stop_processes(
    store: RunStore, suite: str, held: Sequence[tuple[str, Holder]]
) -> list[tuple[str, str]]:
    """SIGTERM each holder, wait (``STOP_WAIT_S``) for it to record its end, mark the run
    cancelled."""
    for process in {holder.process for _, holder in held}:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise OmniBenchError(f"cannot stop {process}: it belongs to another user") from None
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and any(
        holder_liveness(store, suite, run_id) for run_id, _ in held
    ):
        time.sleep(0.2)
    stopped = []
    for run_id, holder in held:
        if holder_liveness(store, suite, run_id):
            continue  # still stopping: its status shows how it ends
        store.write_status(
            suite, run_id, RunState.FAILED, error=f"cancelled (SIGTERM to {holder.process})"
        )
        stopped.append((run_id, str(holder.process)))
    return stopped


def _cancel_slurm(
    store: RunStore, suite: str, queued: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """``scancel`` the jobs ``squeue`` still lists; returns them and the runs whose job is gone."""
    if not queued:
        return [], []
    tool = slurm_client.missing_tool(slurm_client.CANCEL_TOOLS)
    if tool is not None:
        raise OmniBenchError(f"{tool} not found: cancelling needs Slurm's client tools on PATH")
    live = slurm_client.live_jobs([job for _, job in queued])
    cancelled = [(run_id, job) for run_id, job in queued if job in live]
    if cancelled:
        slurm_client.scancel(sorted({job for _, job in cancelled}))
    for run_id, job in cancelled:
        store.write_status(suite, run_id, RunState.FAILED, error=f"cancelled (scancel {job})")
    return cancelled, [run_id for run_id, job in queued if job not in live]


@dataclasses.dataclass(frozen=True)
class Lock:
    """A run's claim as ``unlock`` sees it: its holder (None: an unreadable ``lock.json``) and
    whether that holder runs (True: on this host, or a job the Slurm queue lists)."""

    run_id: str
    holder: Holder | None
    running: bool

    def __str__(self) -> str:
        return str(self.holder) if self.holder is not None else "an unreadable lock.json"


def locks(store: RunStore, suite: str, run_ids: Sequence[str]) -> list[Lock]:
    """The claims of ``run_ids`` that exist (in order)."""
    found = []
    for run_id in run_ids:
        if not (store.run_dir(suite, run_id) / LOCK_FILE).exists():
            continue
        holder = run_holder(store, suite, run_id)
        found.append(Lock(run_id, holder, holder is not None and _still_runs(holder)))
    return found


def _still_runs(holder: Holder) -> bool:
    """True when the holder runs on this host, or is a Slurm job ``squeue`` still lists."""
    if holder.cluster == "slurm" and holder.job_id:
        return bool(slurm_client.live_jobs([holder.job_id])) or holder_alive(holder) is True
    return holder_alive(holder) is True


def unlock(store: RunStore, suite: str, lock: Lock) -> None:
    """Take over ``lock`` (its holder is known to be gone): remove ``lock.json`` unless another
    process claimed the run meanwhile, and mark a run that still says pending or running failed, so
    ``omnibench run`` resumes it."""
    run_dir = store.run_dir(suite, lock.run_id)
    if lock.holder is None:
        (run_dir / LOCK_FILE).unlink(missing_ok=True)
    else:
        take_over(run_dir, lock.holder)
    try:
        status = store.read_status(suite, lock.run_id)
    except CorruptFileError:  # the run stays corrupt: rm --run clears it
        return
    if status is not None and status.state in ACTIVE:
        store.write_status(
            suite,
            lock.run_id,
            RunState.FAILED,
            error=f"{lock} declared gone (omnibench unlock on {hostname()}); rerun to resume",
        )
