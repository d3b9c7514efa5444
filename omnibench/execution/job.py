"""One run's job: its exclusive claim, status transitions in the store, its log, requeueing.

:func:`run_task` is what every executor runs once it holds the run's claim
(:mod:`omnibench.store.claim`): mark the run ``running`` (with the job id and a count of
starts), call :func:`omnibench.protocols.execute` (which resumes from ``checkpoint.pt``), then mark
it ``done``, or ``failed`` with a one-line error, also when the process is interrupted (Ctrl-C,
SIGTERM). :class:`RunJob` wraps it for submitit (local processes, Slurm): a ``Checkpointable``
job whose output goes to the run's log, and which submitit requeues on timeout or preemption (USR2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import submitit

from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.errors import CorruptFileError, NoSpaceError, OmniBenchError
from omnibench.process import Terminated, stops_at_safe_points
from omnibench.store.claim import claimed, read_holder
from omnibench.store.run_store import RunStore
from omnibench.store.runlog import install_log_handler, linked_log, redirect_output
from omnibench.store.states import RunState

RANK_WAIT_S = 300.0  # how long ranks > 0 wait for rank 0 to claim their run


def interruption(stop: BaseException) -> str:
    """How an interrupted run ended, as its one-line error."""
    what = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted (Ctrl-C)"
    return f"{what}; rerun to resume"


@dataclasses.dataclass(frozen=True)
class RunTask:
    """One run to execute: its suite, id (the spec's hash) and spec."""

    suite: str
    run_id: str
    spec: RunSpec

    def __post_init__(self) -> None:
        if self.run_id != self.spec.run_id():
            raise ValueError(
                f"run id {self.run_id} is not the hash of its spec ({self.spec.run_id()})"
            )


def run_task(
    task: RunTask,
    store: RunStore,
    runtime: RuntimeOptions,
    job_id: str | None = None,
    rank: int = 0,
    traceback_to: TextIO | None = None,
    stop_on_sigterm: bool = True,
    started: Callable[[], None] | None = None,
) -> str:
    """Execute one run and record its state transitions; return ``"done"`` or raise.

    Ctrl-C (and SIGTERM if ``stop_on_sigterm``; under Slurm it precedes a requeue) stops the run at
    its next safe point, which records the end. A failure's traceback goes to ``traceback_to``
    (default: stderr, i.e. the job's log). ``started`` is called once the run is marked
    running."""
    from omnibench.protocols import execute  # noqa: PLC0415  (imports torch)

    main = rank == 0
    try:
        if main:
            _mark_running(task, store, job_id, started)
        with stops_at_safe_points(sigterm=stop_on_sigterm):
            execute(task.spec, store.run_dir(task.suite, task.run_id), task.suite, runtime)
    except Exception as err:
        with contextlib.suppress(OmniBenchError, OSError):  # a full disk refuses the log too
            (traceback_to or sys.stderr).write(traceback.format_exc())
        if main:
            _record_failure(task, store, err)
        raise
    except (KeyboardInterrupt, Terminated) as stop:
        if main:
            store.write_status(task.suite, task.run_id, RunState.FAILED, error=interruption(stop))
        raise
    if main:
        store.write_status(task.suite, task.run_id, RunState.DONE)
    return RunState.DONE


def _record_failure(task: RunTask, store: RunStore, error: Exception) -> None:
    """Mark the run failed with ``error``'s line. Where a full disk refuses that too, the run keeps
    its status (``running`` without a holder shows as dead: resumable) and the disk's error is
    raised, unless ``error`` already is one."""
    try:
        store.write_status(task.suite, task.run_id, RunState.FAILED, error=one_line(error))
    except NoSpaceError:
        if not isinstance(error, NoSpaceError):
            raise


def refuse_linked_log(task: RunTask, store: RunStore) -> bool:
    """Fail the run, in one line, when its ``log.txt`` is a symbolic link (nothing is written
    through it)."""
    refusal = linked_log(store.log_path(task.suite, task.run_id))
    if refusal is not None:
        store.write_status(task.suite, task.run_id, RunState.FAILED, error=refusal)
    return refusal is not None


def _mark_running(
    task: RunTask, store: RunStore, job_id: str | None, started: Callable[[], None] | None = None
) -> None:
    """Status ``running`` with the job id and the count of starts (a requeued job starts again);
    then ``started`` (a watcher's look), before the run prints its first line."""
    try:
        previous = store.read_status(task.suite, task.run_id)
    except CorruptFileError:  # replaced by this start
        previous = None
    starts = int(previous.extra.get("starts", 0)) + 1 if previous is not None else 1
    host = socket.gethostname()
    store.write_status(
        task.suite, task.run_id, RunState.RUNNING, job_id=job_id, starts=starts, host=host
    )
    if started is not None:
        started()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(
        f"{stamp} omnibench: run {task.suite}/{task.run_id} "
        f"start #{starts} on {host} (job {job_id or 'inline'})",
        flush=True,
    )


def one_line(err: BaseException) -> str:
    """``err`` as one line (user errors as they are, others with their type)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if isinstance(err, OmniBenchError) else f"{type(err).__name__}: {text}".rstrip(": ")


class RunJob(submitit.helpers.Checkpointable):
    """A submitit job that executes one run; requeued on timeout / preemption, it resumes."""

    def __init__(self, task: RunTask, store: RunStore, runtime: RuntimeOptions) -> None:
        self.task, self.store, self.runtime = task, store, runtime

    def __call__(self) -> str:
        env = submitit.JobEnvironment()
        install_log_handler()
        run_dir = self.store.run_dir(self.task.suite, self.task.run_id)
        if self.store.is_done(self.task.suite, self.task.run_id):  # finished just before a requeue
            return RunState.DONE
        if env.global_rank > 0:
            return self._follow_rank_zero(run_dir, env)
        with claimed(run_dir, env.job_id, env.cluster) as holder:
            return f"left alone: {holder} holds it" if holder is not None else self._execute(env)

    def _execute(self, env: submitit.JobEnvironment) -> str:
        """Rank 0, holding the run's claim: execute it with its output in its log."""
        if self.store.is_done(self.task.suite, self.task.run_id):
            return RunState.DONE
        if refuse_linked_log(self.task, self.store):
            return RunState.FAILED
        # Local processes stop on SIGTERM (Ctrl-C of the launch, omnibench cancel); under Slurm,
        # submitit's handlers stay: SIGTERM precedes preemption and the job is requeued.
        with redirect_output(self.store.log_path(self.task.suite, self.task.run_id)):
            return run_task(
                self.task,
                self.store,
                self.runtime,
                env.job_id,
                0,
                stop_on_sigterm=env.cluster == "local",
            )

    def _follow_rank_zero(self, run_dir: Path, env: submitit.JobEnvironment) -> str:
        """Ranks > 0 execute once rank 0 of the same job holds the run's claim; they stop alike."""
        deadline = time.monotonic() + RANK_WAIT_S
        while time.monotonic() < deadline:
            holder = read_holder(run_dir)
            if holder is not None and holder.job_id == env.job_id:
                local = env.cluster == "local"
                return run_task(
                    self.task,
                    self.store,
                    self.runtime,
                    env.job_id,
                    env.global_rank,
                    stop_on_sigterm=local,
                )
            time.sleep(0.5)
        return "left alone: rank 0 did not claim the run"

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Called (rank 0) before submitit requeues the job: the run waits in the queue again."""
        self.store.write_status(self.task.suite, self.task.run_id, RunState.PENDING, requeued=True)
        return super().checkpoint(*args, **kwargs)
