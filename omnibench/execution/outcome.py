"""How a run ended in a launch, as the run store tells it, and where submitit keeps its jobs'
files."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import submitit

from omnibench.execution.job import RunTask
from omnibench.store.claim import Holder, holder_alive, read_holder
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState
from omnibench.store.survey import run_state


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a run ended in this launch: state, job id, its log and the job's own log."""

    suite: str
    run_id: str
    state: str  # done | failed | pending | running (Slurm jobs still queued when interrupted)
    job_id: str | None = None
    log: str | None = None
    error: str | None = None
    job_log: str | None = None  # submitit's stderr of the job (local / slurm)


def stored_outcome(
    task: RunTask, store: RunStore, job_log: str | None = None, holder: Holder | None = None
) -> Outcome:
    """The run's outcome as the store tells it (``holder``: another process that executes it)."""
    if not store.run_dir(task.suite, task.run_id).is_dir():
        return Outcome(
            task.suite,
            task.run_id,
            RunState.FAILED,
            error="run directory vanished",
            job_log=job_log,
        )
    state, status = run_state(store, task.suite, task.run_id)
    error = f"executed by {holder}" if holder is not None else status.error if status else None
    return Outcome(
        task.suite,
        task.run_id,
        state,
        status.job_id if status else None,
        str(store.log_path(task.suite, task.run_id)),
        error,
        job_log,
    )


def job_folder(store: RunStore, tasks: Sequence[RunTask], per_job: bool) -> Path:
    """``<suite>/.submitit/`` (or ``<root>/.submitit/`` for several suites); Slurm: one folder per
    job."""
    suites = {task.suite for task in tasks}
    base = (store.suite_dir(suites.pop()) if len(suites) == 1 else store.root) / ".submitit"
    return base / "%j" if per_job else base


def finished_outcome(task: RunTask, job: submitit.Job, store: RunStore) -> Outcome:
    """The outcome of a finished job; a job that ended in error before recording it fails its run
    (unless another live process executes the run)."""
    error = job.exception()
    state, status = run_state(store, task.suite, task.run_id)
    holder = read_holder(store.run_dir(task.suite, task.run_id))
    foreign = (
        holder is not None and holder.job_id != job.job_id and holder_alive(holder) is not False
    )
    recorded = (
        status is not None and status.state == RunState.FAILED and status.job_id == job.job_id
    )
    if error is not None and not foreign and not recorded and state != RunState.DONE:
        ended = job.state if job.state not in ("UNKNOWN", "FINISHED") else "killed"
        store.write_status(
            task.suite,
            task.run_id,
            RunState.FAILED,
            job_id=job.job_id,
            error=f"job {job.job_id} ended {ended} before the run finished; see {job.paths.stderr}",
        )
    return stored_outcome(task, store, str(job.paths.stderr))
