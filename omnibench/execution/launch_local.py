"""Runs as parallel local processes (submitit's local executor), each a ``Checkpointable`` job."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import submitit

from omnibench.atomic import writing
from omnibench.config.runtime import LaunchOptions
from omnibench.errors import NoSpaceError
from omnibench.execution.job import RunJob, RunTask
from omnibench.execution.outcome import Outcome, finished_outcome, job_folder
from omnibench.execution.slurm_profile import SlurmProfile, load_profile
from omnibench.process import Terminated
from omnibench.store.run_store import RunStore

LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # local processes without a profile: no practical limit
POLL_S = 0.25  # how often finished jobs are looked for
STOP_WAIT_S = 60.0  # how long stopped local jobs get to record their end


def launch_local(
    tasks: Sequence[RunTask], store: RunStore, options: LaunchOptions
) -> list[Outcome]:
    """At most ``max_parallel`` runs at once, each in its own process (submitit's local executor).

    Ctrl-C reaches only this process (the jobs are started with SIGINT ignored, so submitit's
    controllers print no traceback); it stops the running jobs with SIGTERM, which they record."""
    profile = load_profile(options.profile) if options.profile else None
    executor = _local_executor(store, tasks, profile)
    parallel = options.max_parallel
    limit = parallel if parallel >= 1 else max(1, (os.cpu_count() or 2) // 2)
    waiting = list(tasks)
    active: list[tuple[RunTask, submitit.Job]] = []
    outcomes: dict[str, Outcome] = {}
    try:
        while waiting or active:
            while waiting and len(active) < limit:
                task = waiting.pop(0)
                with _sigint_ignored(), writing(Path(executor.folder)):
                    active.append((task, executor.submit(RunJob(task, store, options.runtime))))
            finished = [(task, job) for task, job in active if job.done()]
            for task, job in finished:
                outcomes[task.run_id] = finished_outcome(task, job, store)
                active.remove((task, job))
            if not finished:
                time.sleep(POLL_S)
    except (KeyboardInterrupt, Terminated, NoSpaceError):
        _stop_local_jobs([job for _, job in active])
        raise
    return [outcomes[task.run_id] for task in tasks]


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started in the block ignore SIGINT (a terminal's Ctrl-C goes to the whole
    group)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_local_jobs(jobs: Sequence[submitit.Job]) -> None:
    """SIGTERM to each job's controller (which forwards it to the run), then wait for them to
    end."""
    for job in jobs:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(job.job_id), signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while any(not job.done() for job in jobs) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def _local_executor(
    store: RunStore, tasks: Sequence[RunTask], resources: SlurmProfile | None
) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(
        folder=job_folder(store, tasks, per_job=False), cluster="local"
    )
    executor.update_parameters(
        timeout_min=resources.time_min if resources else LOCAL_TIMEOUT_MIN,
        tasks_per_node=resources.tasks if resources else 1,
        gpus_per_node=resources.gpus_per_node if resources else 0,
    )
    return executor
