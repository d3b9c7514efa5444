"""One run's job: status transitions in the store, its output in ``log.txt``, requeueing.

:func:`run_task` is what every executor runs: mark the run ``running`` (with the job id and a
count of starts), call :func:`omnibench.protocols.execute` (which resumes from
``checkpoint.pt``), then mark it ``done``, or ``failed`` with a one-line error. :class:`RunJob`
wraps it for submitit (local processes, Slurm): a ``Checkpointable`` job whose output goes to
the run's log, and which submitit requeues on timeout or preemption (USR2).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import submitit

from omnibench.errors import OmniBenchError
from omnibench.runtime import RuntimeOptions
from omnibench.spec import RunSpec
from omnibench.store import RunStore


@dataclasses.dataclass(frozen=True)
class RunTask:
    """One run to execute: its suite, id (the spec's hash) and spec."""

    suite: str
    run_id: str
    spec: RunSpec

    def __post_init__(self) -> None:
        if self.run_id != self.spec.run_id():
            raise ValueError(f"run id {self.run_id} is not the hash of its spec ({self.spec.run_id()})")


def run_task(task: RunTask, store: RunStore, runtime: RuntimeOptions, job_id: str | None = None,
             rank: int = 0, traceback_to: TextIO | None = None) -> str:
    """Execute one run and record its state transitions; return ``"done"`` or raise.

    A failure's traceback goes to ``traceback_to`` (default: stderr, i.e. the job's log)."""
    from omnibench.protocols import execute  # noqa: PLC0415  (imports torch)

    main = rank == 0
    if main:
        _mark_running(task, store, job_id)
    try:
        execute(task.spec, store.run_dir(task.suite, task.run_id), task.suite, runtime)
    except Exception as err:
        (traceback_to or sys.stderr).write(traceback.format_exc())
        if main:
            store.write_status(task.suite, task.run_id, "failed", error=one_line(err))
        raise
    if main:
        store.write_status(task.suite, task.run_id, "done")
    return "done"


def _mark_running(task: RunTask, store: RunStore, job_id: str | None) -> None:
    """Status ``running`` with the job id and the count of starts (a requeued job starts again)."""
    previous = store.read_status(task.suite, task.run_id)
    starts = int(previous.extra.get("starts", 0)) + 1 if previous is not None else 1
    host = socket.gethostname()
    store.write_status(task.suite, task.run_id, "running", job_id=job_id, starts=starts, host=host,
                       log=str(store.log_path(task.suite, task.run_id)))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} omnibench: run {task.suite}/{task.run_id} start #{starts} on {host} (job {job_id or 'inline'})",
          flush=True)


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
        if self.store.is_done(self.task.suite, self.task.run_id):  # finished just before a requeue
            return "done"
        log = self.store.log_path(self.task.suite, self.task.run_id) if env.global_rank == 0 else None
        with redirect_output(log):
            return run_task(self.task, self.store, self.runtime, env.job_id, env.global_rank)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Called (rank 0) before submitit requeues the job: the run waits in the queue again."""
        self.store.write_status(self.task.suite, self.task.run_id, "pending", requeued=True)
        return super().checkpoint(*args, **kwargs)


@contextlib.contextmanager
def redirect_output(path: Path | None) -> Iterator[None]:
    """Send stdout and stderr to ``path`` (appending): file descriptors 1 and 2, so child
    processes and C code follow, and ``sys.stdout`` / ``sys.stderr``, wherever they pointed."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


class Tee:
    """A text stream writing to several streams (the terminal or pipe and the run's log)."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False
