"""Training / evaluation progress: a rich bar on a terminal, plain log lines otherwise.

Only rank 0 reports. Plain lines go to stdout (the run's ``log.txt`` under the launcher). Rich
shows one live display at a time: inside :func:`shared_display` (the suite's line of
``omnibench run``), each run's bars join that display instead of starting their own. An
inline run at a terminal gets both: the bars on the terminal, the plain lines in its log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from omnibench.store.runlog import Tee, live_terminal

_shared: Progress | None = None  # the display of the whole invocation, while one is shown


def bar_columns() -> tuple[ProgressColumn, ...]:
    """What every bar shows: description, bar, done/total, status text, time remaining."""
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
    )


@contextlib.contextmanager
def shared_display() -> Iterator[Progress]:
    """One live display for the invocation; :class:`ProgressReporter` bars started meanwhile join
    it."""
    global _shared
    display = Progress(*bar_columns())
    display.start()
    _shared = display
    try:
        yield display
    finally:
        _shared = None
        display.stop()


def use_rich(preference: bool | None) -> bool:
    """``RuntimeOptions.progress``: None means "only when stdout is a terminal"."""
    return sys.stdout.isatty() if preference is None else preference


class ProgressReporter:
    """Reports epochs and iterations (loss, LR, clips/s) and one-off messages."""

    def __init__(self, rich: bool, active: bool = True, log_every: int = 20) -> None:
        self.active, self.log_every = active, log_every
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.owned = _shared is None  # else the bars join the invocation's display
        self.log: TextIO | None = (
            None  # beside the bars: the log a Tee copies the run's output into
        )
        self._live = contextlib.ExitStack()
        if active and rich:
            tee = sys.stdout if isinstance(sys.stdout, Tee) else None
            self.log = tee.log if tee else None
            self.bar = (
                _shared
                if not self.owned
                else Progress(
                    *bar_columns(),
                    console=Console(file=tee.terminal) if tee else None,
                    redirect_stdout=tee is None,
                    redirect_stderr=tee is None,
                )
            )

    def __enter__(self) -> ProgressReporter:
        if self.bar is not None and self.owned:
            self.bar.start()
            self._live.enter_context(live_terminal(self.bar.console))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.bar is not None and self.owned:
            self._live.close()
            self.bar.stop()
        elif self.bar is not None and self.task is not None:
            self.bar.remove_task(self.task)

    def _plain(self, line: str) -> None:
        """A plain line: to stdout without bars, to the run's log beside them."""
        if self.bar is None:
            print(line, flush=True)
        elif self.log is not None:
            self.log.write(line + "\n")

    def message(self, text: str) -> None:
        """One log line (printed above the bars on a terminal)."""
        if not self.active:
            return
        stamp = time.strftime("%H:%M:%S")
        if self.bar is not None:
            self.bar.console.print(f"[dim]{stamp}[/] {text}", highlight=False)
        self._plain(f"{stamp} {text}")

    def start(self, description: str, total: int, done: int = 0) -> None:
        """Begin a phase (an epoch, an evaluation) of ``total`` iterations, ``done`` already."""
        self.description, self.total = description, total
        if self.bar is not None:
            if self.task is not None:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task(description, total=total, completed=done, status="")

    def update(
        self,
        done: int,
        loss: float | None = None,
        lr: float | None = None,
        clips_per_s: float | None = None,
    ) -> None:
        """Iteration ``done`` of the current phase finished."""
        if not self.active:
            return
        status = "  ".join(
            part
            for part in (
                "" if loss is None else f"loss {loss:.4f}",
                "" if lr is None else f"lr {lr:.2e}",
                "" if clips_per_s is None else f"{clips_per_s:.1f} clips/s",
            )
            if part
        )
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done, status=status)
        if done == self.total or done % self.log_every == 0:
            self._plain(
                (
                    f"{time.strftime('%H:%M:%S')} {self.description} {done}/{self.total} {status}"
                ).rstrip()
            )
