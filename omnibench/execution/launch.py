"""Executing runs: in this process, as parallel local processes, or as one Slurm job array.

Every executor runs the same job body (:mod:`omnibench.execution.job`): the run goes ``running``,
then ``done`` or ``failed`` with a one-line error, and its output goes to its ``log.txt``. Local
and Slurm jobs are submitit ``Checkpointable``: on timeout or preemption they requeue and the
protocol resumes from the run's checkpoint. All runs of one Slurm launch go
out as a single job array, submitted held and released once every run's status names its
array task, so ``omnibench status`` shows the job id from the start. A failed or killed
array task becomes a ``failed`` run; it never hides the other tasks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import submitit

from omnibench.atomic import remove_leftovers
from omnibench.config.runtime import Executor, LaunchOptions, RuntimeOptions
from omnibench.errors import OmniBenchError
from omnibench.execution import slurm_client
from omnibench.execution.claim import Holder, claimed, holder_alive, read_holder
from omnibench.execution.job import RunJob, RunTask, one_line, refuse_linked_log, run_task
from omnibench.execution.plan import run_state
from omnibench.execution.process import Terminated, sigterm_raises
from omnibench.execution.runlog import install_log_handler, tee_output
from omnibench.execution.slurm_profile import (
    SlurmProfile,
    load_profile,
    profile_names,
    submitit_parameters,
)
from omnibench.execution.states import RunState
from omnibench.execution.store import RunStore

PROFILE_ENV = "OMNIBENCH_SLURM_PROFILE"
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # local processes without a profile: no practical limit
POLL_S = 1.0  # how often finished jobs are looked for
SACCT_EVERY_S = 10.0  # how often Slurm is asked about jobs that died without a result
STOP_WAIT_S = 60.0  # how long stopped local jobs get to record their end


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


def launch(tasks: Sequence[RunTask], store: RunStore, options: LaunchOptions) -> list[Outcome]:
    """Execute ``tasks`` as ``options`` say and return one :class:`Outcome` per task, in order.

    ``options.max_parallel`` bounds the local processes / Slurm array tasks running at once
    (< 1: the profile's ``array_parallelism``, or half the CPUs for local processes).
    Ctrl-C or SIGTERM stops the launch (``KeyboardInterrupt`` /
    :class:`~omnibench.execution.process.Terminated` propagate) after every run it started recorded
    how it ended; the others stay as they were.
    """
    if not tasks:
        return []
    store = RunStore(store.root.resolve())  # jobs may start in another working directory
    for task in tasks:
        store.prepare(task.suite, task.spec)
    for suite in sorted({task.suite for task in tasks}):
        remove_leftovers(store.suite_dir(suite))
    install_log_handler()
    with sigterm_raises():
        if options.executor == Executor.INLINE:
            return [run_inline(task, store, options.runtime) for task in tasks]
        if options.executor == Executor.LOCAL:
            return _launch_local(tasks, store, options)
        return _launch_slurm(tasks, store, options)


def run_inline(task: RunTask, store: RunStore, runtime: RuntimeOptions) -> Outcome:
    """Execute in this process (breakpoints work) once it holds the run's claim. Output is copied
    into the run's log (at a terminal the live progress bar stays there). A failure's traceback
    goes to the log only; the run's status (and so the summary) carries its one-line error."""
    with claimed(store.run_dir(task.suite, task.run_id)) as holder:
        if (
            holder is None
            and not store.is_done(task.suite, task.run_id)
            and not refuse_linked_log(task, store)
        ):
            with tee_output(store.log_path(task.suite, task.run_id)) as log:
                try:
                    run_task(task, store, runtime, traceback_to=log)
                except Exception:  # noqa: S110
                    pass  # recorded in status.json and the log; the summary shows it
    return _stored_outcome(task, store, holder=holder)


def _stored_outcome(
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
        status.log if status else None,
        error,
        job_log,
    )


def _job_folder(store: RunStore, tasks: Sequence[RunTask], per_job: bool) -> Path:
    """``<suite>/.submitit/`` (or ``<root>/.submitit/`` for several suites); Slurm: one folder per
    job."""
    suites = {task.suite for task in tasks}
    base = (store.suite_dir(suites.pop()) if len(suites) == 1 else store.root) / ".submitit"
    return base / "%j" if per_job else base


def _launch_local(
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
                with _sigint_ignored():
                    active.append((task, executor.submit(RunJob(task, store, options.runtime))))
            finished = [(task, job) for task, job in active if job.done()]
            for task, job in finished:
                outcomes[task.run_id] = _finished_outcome(task, job, store)
                active.remove((task, job))
            if not finished:
                time.sleep(POLL_S / 4)
    except (KeyboardInterrupt, Terminated):
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
        time.sleep(POLL_S / 4)


def _local_executor(
    store: RunStore, tasks: Sequence[RunTask], resources: SlurmProfile | None
) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(
        folder=_job_folder(store, tasks, per_job=False), cluster="local"
    )
    executor.update_parameters(
        timeout_min=resources.time_min if resources else LOCAL_TIMEOUT_MIN,
        tasks_per_node=resources.tasks if resources else 1,
        gpus_per_node=resources.gpus_per_node if resources else 0,
    )
    return executor


def _finished_outcome(task: RunTask, job: submitit.Job, store: RunStore) -> Outcome:
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
    return _stored_outcome(task, store, str(job.paths.stderr))


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


def _launch_slurm(
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
            _stored_outcome(task, store, str(job.paths.stderr)) for task, job in zip(tasks, jobs)
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
        with executor.batch():
            jobs = [executor.submit(RunJob(task, store, runtime)) for task in tasks]
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
                job_log=str(job.paths.stderr),
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
        folder=_job_folder(store, tasks, per_job=True),
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
                outcomes[index] = _finished_outcome(tasks[index], job, store)
        if len(outcomes) < len(jobs):
            time.sleep(POLL_S)
            if time.monotonic() - last_sacct > SACCT_EVERY_S:
                jobs[0].watcher.update()
                last_sacct = time.monotonic()
    return [outcomes[index] for index in range(len(jobs))]
