"""Executing runs: in this process, as parallel local processes, or as one Slurm job array.

Every executor runs the same job body (:mod:`omnibench.execution.job`): the run goes ``running``,
then ``done`` or ``failed`` with a one-line error, and its output goes to its ``log.txt``. Local
and Slurm jobs are submitit ``Checkpointable``: on timeout or preemption they requeue and the
protocol resumes from the run's checkpoint. All runs of one Slurm launch go
out as a single job array, submitted held and released once every run's status names its
array task, so ``omnibench status`` shows the job id from the start. A failed or killed
array task becomes a ``failed`` run; it never hides the other tasks. The local and Slurm
executors are :mod:`~omnibench.execution.launch_local` and :mod:`~omnibench.execution.launch_slurm`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from omnibench.atomic import remove_leftovers
from omnibench.config.runtime import Executor, LaunchOptions, RuntimeOptions
from omnibench.errors import NoSpaceError
from omnibench.execution.job import RunTask, refuse_linked_log, run_task
from omnibench.execution.launch_local import launch_local
from omnibench.execution.launch_slurm import launch_slurm
from omnibench.execution.outcome import Outcome, stored_outcome
from omnibench.execution.plan import PlannedRun
from omnibench.process import sigterm_raises
from omnibench.store.claim import claimed
from omnibench.store.run_store import RunStore
from omnibench.store.runlog import install_log_handler, tee_output

__all__ = ["Outcome", "RunTask", "launch", "launch_plans", "run_inline"]


def launch_plans(
    suite: str,
    plans: Sequence[PlannedRun],
    store: RunStore,
    options: LaunchOptions,
    watch: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Execute the planned runs this invocation executes (``run``, ``ablate`` and ``eval`` alike):
    a rerun's folder is cleared first, then :func:`launch`."""
    todo = [plan for plan in plans if plan.executes]
    for plan in todo:
        if plan.action == "rerun":
            store.clear(suite, plan.run_id)
    return launch([RunTask(suite, p.run_id, p.spec) for p in todo], store, options, watch)


def launch(
    tasks: Sequence[RunTask],
    store: RunStore,
    options: LaunchOptions,
    watch: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Execute ``tasks`` as ``options`` say and return one :class:`Outcome` per task, in order.
    ``watch`` (a progress display's look at the runs' statuses) is called in order with the inline
    runs' output: once a run is marked running, and once it ended.

    ``options.max_parallel`` bounds the local processes / Slurm array tasks running at once
    (< 1: the profile's ``array_parallelism``, or half the CPUs for local processes).
    Ctrl-C or SIGTERM stops the launch (``KeyboardInterrupt`` /
    :class:`~omnibench.process.Terminated` propagate) after every run it started recorded
    how it ended; the others stay as they were. So does a full disk (:class:`NoSpaceError`, naming
    the filesystem and the file): the next runs could not write either.
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
            return [run_inline(task, store, options.runtime, watch) for task in tasks]
        if options.executor == Executor.LOCAL:
            return launch_local(tasks, store, options)
        return launch_slurm(tasks, store, options)


def run_inline(
    task: RunTask,
    store: RunStore,
    runtime: RuntimeOptions,
    watch: Callable[[], None] | None = None,
) -> Outcome:
    """Execute in this process (breakpoints work) once it holds the run's claim. Output is copied
    into the run's log (at a terminal the live progress bar stays there). A failure's traceback
    goes to the log only; the run's status (and so the summary) carries its one-line error. A full
    disk is raised (:class:`NoSpaceError`): it stops the launch, with the run's state left true."""
    with claimed(store.run_dir(task.suite, task.run_id)) as holder:
        if (
            holder is None
            and not store.is_done(task.suite, task.run_id)
            and not refuse_linked_log(task, store)
        ):
            with tee_output(store.log_path(task.suite, task.run_id)) as log:
                try:
                    run_task(task, store, runtime, traceback_to=log, started=watch)
                except NoSpaceError:
                    raise
                except Exception:  # noqa: S110
                    pass  # recorded in status.json and the log; the summary shows it
    if watch is not None:
        watch()
    return stored_outcome(task, store, holder=holder)
