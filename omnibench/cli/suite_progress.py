"""Progress of a whole `omnibench run`: run i/N, done / failed so far, an overall ETA.

On a terminal it is one bar above the runs' own epoch bars (one rich display for both); in a log
(CI, nohup, a Slurm job) it is one plain line when a run starts and one when it ends. It follows
the runs' ``status.json`` files from a thread, so it works alike for the inline, local and Slurm
executors; the ETA is the time per finished run so far times the runs still to finish.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from omnibench.cli.run_tables import top1
from omnibench.errors import OmniBenchError
from omnibench.store.run_files import STATUS_FILE
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

POLL_S = 1.0


def clock(seconds: float) -> str:
    """``1:02:03`` / ``4:05``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclasses.dataclass
class _Run:
    run_id: str
    label: str
    started: float | None = None
    number: int = 0  # the order in which runs started, 1-based
    state: str | None = None  # done | failed, once ended
    before: tuple[int, str | None] = (
        0,
        None,
    )  # (starts, updated) of its status when watching began
    seen: tuple[int, int, int] | None = (
        None  # its status file when last looked at (unchanged: skip)
    )


class SuiteProgress:
    """Watches ``runs`` (run id -> label) of ``suite`` in ``store`` while they execute."""

    def __init__(
        self,
        store: RunStore,
        suite: str,
        runs: Mapping[str, str],
        rich: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.store, self.suite = store, suite
        self.runs = [
            _Run(run_id, label, before=self._stamp(run_id)) for run_id, label in runs.items()
        ]
        self.rich = sys.stdout.isatty() if rich is None else rich
        self.stream = (
            stream or sys.stdout
        )  # captured now: runs later redirect sys.stdout to their logs
        self.began = time.monotonic()
        self.stopped = threading.Event()
        self.started = 0  # runs seen starting so far
        self.looking = threading.Lock()  # one look at a time: the thread's, or the launch's
        self.display: Progress | None = None
        self.task: TaskID | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[SuiteProgress]:
        """Report while the body executes the runs; a last look when it returns."""
        with contextlib.ExitStack() as stack:
            if self.rich:
                # the engine imports torch
                from omnibench.engine.progress import shared_display  # noqa: PLC0415

                self.display = stack.enter_context(shared_display())
                self.task = self.display.add_task(
                    self.suite, total=len(self.runs), status=self.status()
                )
            thread = threading.Thread(target=self._loop, name="suite-progress", daemon=True)
            thread.start()
            try:
                yield self
            finally:
                self.stopped.set()
                thread.join()
                self.poll()

    def _loop(self) -> None:
        while not self.stopped.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        """Look at every unfinished run's status once; report starts and ends. Called by the
        watching thread, and by an inline launch in order with its runs' output (so a log reads
        top to bottom)."""
        with self.looking:
            for run in self.runs:
                if run.state is None:
                    self._look(run)
            if self.display is not None and self.task is not None:
                self.display.update(self.task, completed=self.finished, status=self.status())

    def _stamp(self, run_id: str) -> tuple[int, str | None]:
        try:
            status = self.store.read_status(self.suite, run_id)
        except OmniBenchError:  # a corrupt status: cleared before the run starts (--force)
            return (0, None)
        return (
            (int(status.extra.get("starts", 0)), status.updated)
            if status is not None
            else (0, None)
        )

    def _look(self, run: _Run) -> None:
        """A run counts once its status changed since watching began (a failure of an earlier
        invocation does not). A status file that did not change since the last look is not read
        (a campaign watches thousands)."""
        try:
            stat = os.stat(self.store.run_dir(self.suite, run.run_id) / STATUS_FILE)
            seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            seen = None
        if seen is not None and seen == run.seen:
            return
        try:
            status = self.store.read_status(self.suite, run.run_id)
            done = (
                self.store.is_done(self.suite, run.run_id)
                and status is not None
                and status.state == RunState.DONE
            )
        except OmniBenchError:  # a status being replaced: look again at the next poll
            return
        run.seen = seen
        if status is None or (int(status.extra.get("starts", 0)), status.updated) == run.before:
            return
        if status.state == RunState.RUNNING and run.started is None:
            self._start(run)
        if done or status.state == RunState.FAILED:
            if run.started is None:
                self._start(run)
            run.state = RunState.DONE if done else RunState.FAILED
            self._end(run, status.error)

    def _start(self, run: _Run) -> None:
        run.started = time.monotonic()
        self.started += 1
        run.number = self.started
        self._line(f"[{run.number}/{len(self.runs)}] start {self.suite}/{run.run_id}{run.label}")

    def _end(self, run: _Run, error: str | None) -> None:
        took = clock(time.monotonic() - (run.started or self.began))
        result = (
            f"top-1 {top1(self.store.read_record(self.suite, run.run_id))}"
            if run.state == RunState.DONE
            else error
        )
        self._line(
            f"[{run.number}/{len(self.runs)}] {run.state} "
            f"{self.suite}/{run.run_id} in {took}: {result} "
            f"· {self.status()}"
        )

    @property
    def finished(self) -> int:
        return sum(run.state is not None for run in self.runs)

    def status(self) -> str:
        """``run 3/8 · 2 done · 0 failed · ETA 1:02:03``."""
        started = self.started
        counts = {
            state: sum(run.state == state for run in self.runs)
            for state in (RunState.DONE, RunState.FAILED)
        }
        text = (
            f"run {max(started, 1)}/{len(self.runs)} · "
            f"{counts[RunState.DONE]} done · {counts[RunState.FAILED]} failed"
        )
        left = len(self.runs) - self.finished
        if self.finished and left:
            text += f" · ETA {clock((time.monotonic() - self.began) / self.finished * left)}"
        return text

    def _line(self, text: str) -> None:
        if self.display is not None:
            self.display.console.print(text, highlight=False, markup=False)
        else:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=self.stream, flush=True)


def run_labels(labels: Sequence[tuple[str, Mapping[str, object]]]) -> dict[str, str]:
    """run id -> `` (hmdb51 · K=2 · omniclip)`` from each run's suite labels."""
    out = {}
    for run_id, values in labels:
        shown = " · ".join(str(v) for v in values.values() if v not in (None, "", [], {}))
        out[run_id] = f" ({shown})" if shown else ""
    return out
