"""Runs as one Slurm job array, submitted held and released once every run's status names its
array task (so ``omnibench status`` shows the job id from the start). A failed or killed array
task becomes a ``failed`` run; it never hides the other tasks."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import submitit

from omnibench.atomic import writing
from omnibench.config.runtime import LaunchOptions, RuntimeOptions
from omnibench.errors import NoSpaceError, OmniBenchError
from omnibench.execution import slurm_client
from omnibench.execution.job import RunJob, RunTask, one_line
from omnibench.execution.outcome import Outcome, finished_outcome, job_folder, stored_outcome
from omnibench.execution.process import Terminated
from omnibench.execution.slurm_profile import (
    SlurmProfile,
    load_profile,
    profile_names,
    submitit_parameters,
)
from omnibench.execution.states import RunState
from omnibench.execution.store import RunStore

PROFILE_ENV = "OMNIBENCH_SLURM_PROFILE"
POLL_S = 1.0  # how often finished jobs are looked for
SACCT_EVERY_S = 10.0  # how often Slurm is asked about jobs that died without a result


def default_profile(profile: str | None) -> str:
    """``--profile``, else ``$OMNIBENCH_SLURM_PROFILE``; without either, a one-line error."""
    chosen = profile or os.environ.get(PROFILE_ENV)
    if not chosen:
        known = ", ".join(profile_names()) or "none found"
        raise OmniBenchError(
            "--executor slurm needs --profile NAME "
            f"(slurm/<NAME>.yaml; known: {known}) or ${PROFILE_ENV}"
        )
    return chosen


def launch_slurm(
    tasks: Sequence[RunTask], store: RunStore, options: LaunchOptions
) -> list[Outcome]:
    resources = load_profile(default_profile(options.profile))
    jobs = submit_array(tasks, store, options.runtime, resources, options.max_parallel)
    try:
        return _wait_slurm(tasks, jobs, store)
    except (KeyboardInterrupt, Terminated):
        print(
            "stopped waiting: the jobs keep running in "
            f"Slurm (scancel {jobs[0].job_id.split('_')[0]} "
            "cancels them); `omnibench status` shows their progress",
            file=sys.stderr,
        )
        return [
            stored_outcome(task, store, str(job.paths.stderr)) for task, job in zip(tasks, jobs)
        ]


def submit_array(
    tasks: Sequence[RunTask],
    store: RunStore,
    runtime: RuntimeOptions,
    resources: SlurmProfile,
    max_parallel: int,
) -> list[submitit.Job]:
    """Submit all ``tasks`` as one held job array, record each task's job id, release the array."""
    tool = slurm_client.missing_tool(slurm_client.SUBMIT_TOOLS)
    if tool is not None:
        raise OmniBenchError(
            f"--executor slurm: '{tool}' not found; run on a Slurm login node "
            "(or start the test cluster: slurm/local-cluster.sh start)"
        )
    executor = _slurm_executor(store, tasks, resources, max_parallel)
    try:
        with writing(job_folder(store, tasks, per_job=False)), executor.batch():
            jobs = [executor.submit(RunJob(task, store, runtime)) for task in tasks]
    except NoSpaceError:
        raise
    except Exception as err:  # sbatch's refusal (bad partition, account...) as one line
        raise OmniBenchError(
            f"sbatch refused the job array (profile {resources.name}): {_sbatch_error(err)}"
        ) from None
    array = jobs[0].job_id.split("_")[0]
    try:
        for task, job in zip(tasks, jobs):
            store.write_status(
                task.suite,
                task.run_id,
                RunState.PENDING,
                job_id=job.job_id,
                job_log=os.path.relpath(job.paths.stderr, store.root),  # the store may move
            )
        slurm_client.release(array)
    except BaseException as err:
        for task, job in zip(tasks, jobs):  # no run stays pending on a cancelled array
            status = store.read_status(task.suite, task.run_id)
            if (
                status is not None
                and status.state == RunState.PENDING
                and status.job_id == job.job_id
            ):
                store.write_status(
                    task.suite,
                    task.run_id,
                    RunState.FAILED,
                    error=f"job array {array} cancelled before release: {one_line(err)}",
                )
        slurm_client.scancel([array])  # never leave a held array behind
        raise
    return jobs


def _slurm_executor(
    store: RunStore, tasks: Sequence[RunTask], resources: SlurmProfile, max_parallel: int
) -> submitit.AutoExecutor:
    """An executor for one held job array of ``tasks`` with the profile's resources."""
    extra = {"slurm_python": resources.python} if resources.python else {}
    executor = submitit.AutoExecutor(
        folder=job_folder(store, tasks, per_job=True),
        cluster="slurm",
        slurm_max_num_timeout=resources.max_requeues,
        **extra,
    )
    parallel = max_parallel if max_parallel >= 1 else resources.array_parallelism
    names = sorted({task.suite for task in tasks})
    params = submitit_parameters(
        resources, f"omnibench-{'+'.join(names)}", min(parallel, len(tasks))
    )
    params["slurm_additional_parameters"]["hold"] = (
        True  # released once every status names its task
    )
    executor.update_parameters(**params)
    return executor


def _sbatch_error(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if "error" in line.lower()]
    return (lines[-1] if lines else one_line(err)).removeprefix("sbatch: error: ")


def _wait_slurm(
    tasks: Sequence[RunTask], jobs: list[submitit.Job], store: RunStore
) -> list[Outcome]:
    """Poll until every array task ended; Slurm (sacct) is asked every ``SACCT_EVERY_S``."""
    outcomes: dict[int, Outcome] = {}
    last_sacct = time.monotonic()
    while len(outcomes) < len(jobs):
        for index, job in enumerate(jobs):
            if index not in outcomes and job.done():
                outcomes[index] = finished_outcome(tasks[index], job, store)
        if len(outcomes) < len(jobs):
            time.sleep(POLL_S)
            if time.monotonic() - last_sacct > SACCT_EVERY_S:
                jobs[0].watcher.update()
                last_sacct = time.monotonic()
    return [outcomes[index] for index in range(len(jobs))]
