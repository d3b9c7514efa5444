"""Where a run's output goes: its ``log.txt``, and the terminal or pipe it was started from.

- A job (local process, Slurm task) sends file descriptors 1 and 2 to the log
  (:func:`redirect_output`), so child processes and C code follow.
- An inline run copies its output into the log through a :class:`Tee`, whether it was started
  at a terminal (the live progress bar stays on the terminal, its plain lines go to the log;
  see :func:`live_terminal`) or not (CI, nohup, Slurm batch scripts).
- Log records of every library go to whatever ``sys.stderr`` is when they are emitted
  (:func:`install_log_handler`), so none stays bound to a finished run's closed log.

A log is opened without following a symbolic link: a link planted in the store cannot make a
run write elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from omnibench.atomic import writing
from omnibench.errors import OmniBenchError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def linked_log(path: Path) -> str | None:
    """Why the log at ``path`` is refused (a symbolic link: a run writes only into its own folder),
    or None."""
    if not path.is_symlink():
        return None
    return (
        f"{path}: is a symbolic link; a run writes its "
        "log only into its own folder (remove the link)"
    )


def open_log(path: Path) -> TextIO:
    """``path`` opened for appending (line-buffered, created with the umask's permissions); never
    through a link."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        with writing(path):
            fd = os.open(path, flags, 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OmniBenchError(linked_log(path) or f"{path}: a symbolic link") from None
        raise
    return cast(TextIO, RunLog(path, os.fdopen(fd, "a", encoding="utf-8", buffering=1)))


class RunLog:
    """A run's open ``log.txt``: a full disk while writing it is :class:`NoSpaceError` naming it;
    closing never fails over lines a full disk kept from it."""

    def __init__(self, path: Path, handle: TextIO) -> None:
        self.path, self.handle = path, handle

    def write(self, text: str) -> int:
        with writing(self.path):
            return self.handle.write(text)

    def flush(self) -> None:
        with writing(self.path):
            self.handle.flush()

    def fileno(self) -> int:
        return self.handle.fileno()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):  # what a full disk refused is lost either way
            self.handle.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Tee:
    """A text stream writing to the ``terminal`` (or pipe) it replaces and to a run's ``log``. A
    terminal or pipe that went away (``| head``, a dead ``tee``) is dropped; the log goes on."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self.terminal, self.log = terminal, log
        self.terminal_gone = False

    def write(self, text: str) -> int:
        self._to_terminal(lambda: self.terminal.write(text))
        self.log.write(text)
        return len(text)

    def flush(self) -> None:
        self._to_terminal(self.terminal.flush)
        self.log.flush()

    def _to_terminal(self, action: Callable[[], object]) -> None:
        if self.terminal_gone:
            return
        try:
            action()
        except (BrokenPipeError, ValueError):  # a closed pipe, or a closed stream
            self.terminal_gone = True

    def isatty(self) -> bool:
        """Whether the terminal side is one (the live progress bar draws there)."""
        return self.terminal.isatty()

    @property
    def rich_proxied_file(self) -> TextIO:
        """Where a rich console that writes to ``sys.stdout`` draws: the terminal, never the log."""
        return getattr(self.terminal, "rich_proxied_file", self.terminal)


@contextlib.contextmanager
def tee_output(path: Path) -> Iterator[TextIO]:
    """Copy ``sys.stdout`` and ``sys.stderr`` into the log at ``path`` for the block; yields the
    log."""
    with (
        open_log(path) as log,
        contextlib.redirect_stdout(Tee(sys.stdout, log)),
        contextlib.redirect_stderr(Tee(sys.stderr, log)),
    ):
        yield log


@contextlib.contextmanager
def live_terminal(console: Any) -> Iterator[TextIO | None]:
    """While a live display draws on ``console``, text written to a :class:`Tee` reaches the
    terminal above it (as rich's own redirection does). Yields the log the Tee copies into, if
    any."""
    from rich.file_proxy import FileProxy  # noqa: PLC0415

    tees = [stream for stream in (sys.stdout, sys.stderr) if isinstance(stream, Tee)]
    saved = [tee.terminal for tee in tees]
    for tee in tees:
        tee.terminal = cast(
            TextIO, FileProxy(console, tee.terminal)
        )  # a text stream (rich's own typing: TextIOBase)
    try:
        yield tees[0].log if tees else None
    finally:
        for tee, terminal in zip(tees, saved):
            tee.terminal.flush()
            tee.terminal = terminal


@contextlib.contextmanager
def redirect_output(path: Path | None) -> Iterator[None]:
    """Send stdout and stderr to ``path`` (appending): file descriptors 1 and 2, so child
    processes and C code follow, and ``sys.stdout`` / ``sys.stderr``, wherever they pointed."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    with open_log(path) as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


class _CurrentStderr(logging.StreamHandler):
    """A handler writing to the ``sys.stderr`` of the moment (a run's Tee or log while it runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns one; it is not kept
        pass


def install_log_handler() -> None:
    """Give the root logger a handler that follows ``sys.stderr``, unless it already has handlers.

    Without it, the first library that calls ``logging.info(...)`` inside a run makes the root
    logger keep a handler on that run's redirected stderr, which is closed when the run ends."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(_CurrentStderr())


class DeadPipeGuard:
    """The command's ``sys.stdout`` / ``sys.stderr``: once its reader went away (``omnibench run
    | head``, a dead ``tee``, a closed log pipe) or its file cannot take more (a full disk), what
    is written to it is dropped, so printing never kills the command or leaves a run without a
    recorded end; each run's ``log.txt`` goes on. The descriptor then points at ``/dev/null`` (as
    Python's documentation advises), so the interpreter's last flush does not fail either; output
    lost for another reason than a closed pipe is kept in ``lost`` for the command to report."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.gone = stream, False
        self.lost: OSError | None = None

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except OSError as error:
                self._went_away(error)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except OSError as error:
                self._went_away(error)

    def _went_away(self, error: OSError) -> None:
        self.gone = True
        self.lost = None if isinstance(error, BrokenPipeError) else error
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_pipes() -> list[DeadPipeGuard]:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in a :class:`DeadPipeGuard` (once); returns them."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, DeadPipeGuard):
            setattr(sys, name, DeadPipeGuard(stream))
    return [s for s in (sys.stdout, sys.stderr) if isinstance(s, DeadPipeGuard)]
