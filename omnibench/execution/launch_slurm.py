"""Runs as one Slurm job array, submitted held and released once every run's status names its
array task (so ``omnibench status`` shows the job id from the start). A failed or killed array
task becomes a ``failed`` run; it never hides the other tasks."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import submitit

from omnibench import slurm_client
from omnibench.atomic import writing
from omnibench.config.runtime import LaunchOptions, RuntimeOptions
from omnibench.errors import NoSpaceError, OmniBenchError
from omnibench.execution.job import RunJob, RunTask, one_line
from omnibench.execution.outcome import Outcome, finished_outcome, job_folder, stored_outcome
from omnibench.execution.slurm_profile import (
    SlurmProfile,
    load_profile,
    profile_names,
    submitit_parameters,
)
from omnibench.process import Terminated
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState

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
    parallel = options.max_parallel if options.max_parallel >= 1 else resources.array_parallelism
    waves = ArrayWaves(tasks, store, options.runtime, resources, parallel)
    waves.submit()
    try:
        return _wait_slurm(tasks, waves, store)
    except (KeyboardInterrupt, Terminated):
        print(
            "stopped waiting: the jobs keep running in "
            f"Slurm (scancel {' '.join(waves.arrays)} cancels them); "
            "`omnibench status` shows their progress",
            file=sys.stderr,
        )
        logs = {task.run_id: str(job.paths.stderr) for task, job in waves.submitted}
        return [stored_outcome(task, store, logs.get(task.run_id)) for task in tasks]


class ArrayWaves:
    """The runs of one launch going out as job arrays, as many and as large as the cluster allows
    (``MaxArraySize``), one after another: each array waits for the one before (``afterany``),
    so that at most ``parallel`` of their tasks run at once. Where Slurm caps the jobs a user may
    have queued (``MaxSubmitJobs``), only what fits goes out; :meth:`submit` again sends more,
    once a whole array fits (or nothing of ours is queued any more)."""

    def __init__(
        self,
        tasks: Sequence[RunTask],
        store: RunStore,
        runtime: RuntimeOptions,
        resources: SlurmProfile,
        parallel: int,
    ) -> None:
        tool = slurm_client.missing_tool(slurm_client.SUBMIT_TOOLS)
        if tool is not None:
            raise OmniBenchError(
                f"--executor slurm: '{tool}' not found; run on a Slurm login node "
                "(or start the test cluster: slurm/local-cluster.sh start)"
            )
        self.store, self.runtime, self.resources, self.parallel = (
            store,
            runtime,
            resources,
            parallel,
        )
        self.limits = slurm_client.submit_limits(resources.account, resources.qos)
        self.left = list(tasks)
        self.submitted: list[tuple[RunTask, submitit.Job]] = []
        self.arrays: list[str] = []
        self.waited = False  # said that nothing fits yet

    def submit(self) -> None:
        """Submit what fits now, as arrays of at most ``MaxArraySize`` tasks; say what went out."""
        room = self.limits.room()
        count = len(self.left) if room is None else min(room, len(self.left))
        whole = min(len(self.left), self.limits.max_array_size)
        if self.arrays and 0 < count < whole and slurm_client.array_queued(self.arrays[-1]):
            return  # room for a whole array opens as ours run: not a trickle of small ones
        if count == 0:
            if not self.submitted and not self.waited:
                print(f"waiting for room in the queue: {self.full()}", flush=True)
                self.waited = True
            return
        batch, size = self.left[:count], max(1, self.limits.max_array_size)
        sizes: list[int] = []
        for start in range(0, count, size):
            chunk = batch[start : start + size]
            after = self.arrays[-1] if self.arrays else None
            if after is not None and not sizes and not slurm_client.array_queued(after):
                after = None  # the last wave has ended: nothing to wait for
            jobs = self._submit(chunk, after)
            self.submitted += zip(chunk, jobs)
            self.arrays.append(jobs[0].job_id.split("_")[0])
            sizes.append(len(chunk))
        self.left = self.left[count:]
        print(self.said(sizes, len(batch) + len(self.left)), flush=True)

    def _submit(self, chunk: Sequence[RunTask], after: str | None) -> list[submitit.Job]:
        try:
            return submit_array(
                chunk, self.store, self.runtime, self.resources, self.parallel, after
            )
        except OmniBenchError as err:
            if not self.arrays:
                raise
            raise OmniBenchError(
                f"{err}; job arrays {', '.join(self.arrays)} went out before it and keep running"
            ) from None

    def said(self, sizes: Sequence[int], wanted: int) -> str:
        """One line: how many runs went out, as which arrays, why split, and what waits."""
        arrays = self.arrays[-len(sizes) :]
        shown = ", ".join(f"{a} ({n})" for a, n in zip(arrays, sizes))
        runs = sum(sizes)
        text = f"submitted {runs}{f' of {wanted}' if runs < wanted else ''} runs as "
        if len(sizes) == 1:
            text += f"job array {shown}"
        else:
            text += (
                f"{len(sizes)} job arrays of at most {self.limits.max_array_size} tasks "
                f"(MaxArraySize), each after the one before: {shown}"
            )
        text += f"; at most {self.parallel} tasks at once"
        if self.left:
            text += f"; the other {len(self.left)} go out as the queue empties ({self.full()})"
        return text

    def full(self) -> str:
        """Why not every run went out: the limit, where it is set."""
        return f"{self.limits.max_submit_source} is {self.limits.max_submit}"


def submit_array(
    tasks: Sequence[RunTask],
    store: RunStore,
    runtime: RuntimeOptions,
    resources: SlurmProfile,
    parallel: int,
    after: str | None = None,
) -> list[submitit.Job]:
    """Submit ``tasks`` as one held job array (``after``: the job array it waits for), record each
    task's job id, release the array."""
    executor = _slurm_executor(store, tasks, resources, parallel, after)
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
    store: RunStore,
    tasks: Sequence[RunTask],
    resources: SlurmProfile,
    parallel: int,
    after: str | None,
) -> submitit.AutoExecutor:
    """An executor for one held job array of ``tasks`` with the profile's resources."""
    extra = {"slurm_python": resources.python} if resources.python else {}
    executor = submitit.AutoExecutor(
        folder=job_folder(store, tasks, per_job=True),
        cluster="slurm",
        slurm_max_num_timeout=resources.max_requeues,
        **extra,
    )
    names = sorted({task.suite for task in tasks})
    params = submitit_parameters(
        resources, f"omnibench-{'+'.join(names)}", min(parallel, len(tasks))
    )
    sbatch = params["slurm_additional_parameters"]
    sbatch["hold"] = True  # released once every status names its task
    if after is not None:
        sbatch["dependency"] = f"afterany:{after}"
    executor.update_parameters(**params)
    return executor


def _sbatch_error(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if "error" in line.lower()]
    return (lines[-1] if lines else one_line(err)).removeprefix("sbatch: error: ")


def _wait_slurm(tasks: Sequence[RunTask], waves: ArrayWaves, store: RunStore) -> list[Outcome]:
    """Poll until every array task ended, sending the runs still waiting for room as it frees;
    Slurm (sacct, squeue) is asked every ``SACCT_EVERY_S``."""
    outcomes: dict[str, Outcome] = {}
    last_sacct = time.monotonic()
    while waves.left or len(outcomes) < len(waves.submitted):
        for task, job in waves.submitted:
            if task.run_id not in outcomes and job.done():
                outcomes[task.run_id] = finished_outcome(task, job, store)
        if waves.left or len(outcomes) < len(waves.submitted):
            time.sleep(POLL_S)
            if time.monotonic() - last_sacct > SACCT_EVERY_S:
                if waves.submitted:
                    waves.submitted[0][1].watcher.update()
                waves.submit()
                last_sacct = time.monotonic()
    return [outcomes[task.run_id] for task in tasks]
