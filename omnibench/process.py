"""Which process wrote or holds something, whether it provably still runs, and how SIGTERM stops
one.

A process is named by its host, pid and start time (the boot id and the start tick from
``/proc``), so neither a pid reused by a newer process nor one from before a reboot is
mistaken for the original. Whether a process on another host still runs cannot be seen from
here: :meth:`ProcessId.alive` then answers ``None`` and callers must not assume it is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()[:8]
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start)`` of ``pid`` from ``/proc/<pid>/stat``; None where there is no such file."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[
        text.rindex(")") + 2 :
    ].split()  # the command name (in parentheses) may hold spaces
    return fields[0], f"{_boot_id()}:{fields[19]}"  # fields 3 and 22 of proc(5): state, starttime


def hostname() -> str:
    """This machine's host name, as processes record it."""
    return socket.gethostname()


@dataclasses.dataclass(frozen=True)
class ProcessId:
    """A process: host, pid and (on Linux) its start time."""

    host: str
    pid: int
    started: str | None = None

    @classmethod
    def current(cls) -> ProcessId:
        """This process."""
        stat = _proc_stat(os.getpid())
        return cls(hostname(), os.getpid(), stat[1] if stat else None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessId | None:
        """The process named by ``host`` / ``pid`` / ``started`` fields, or None if they are
        missing."""
        host, pid = data.get("host"), data.get("pid")
        if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
            return None
        started = data.get("started")
        return cls(host, pid, started if isinstance(started, str) else None)

    def to_dict(self) -> dict[str, Any]:
        """``{"host", "pid", "started"}``."""
        return dataclasses.asdict(self)

    def alive(self) -> bool | None:
        """True if it still runs, False if it provably ended, None if it runs on another host."""
        if self.host != hostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            pass
        stat = _proc_stat(self.pid)
        if stat is None:  # no /proc: the pid exists, which is all we can tell
            return True
        state, started = stat
        return state not in ("Z", "X") and (self.started is None or started == self.started)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (like KeyboardInterrupt for SIGINT) so a run records its
    end."""


_requested: list[int] = []  # the stop signal received inside stops_at_safe_points, until raised


def _raise_for(signum: int, frame: Any = None) -> NoReturn:
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def _defer(signum: int, frame: Any) -> None:
    """Note the signal; a second one (the user insists) raises at once."""
    if _requested:
        _requested.clear()
        _raise_for(signum)
    _requested.append(signum)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a
    no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_for)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def stops_at_safe_points(sigterm: bool = True) -> Iterator[None]:
    """Within the block, SIGTERM (if ``sigterm``) and Ctrl-C (unless ignored) stop the run at the
    next :func:`stop_point` (each training step, each evaluation batch) or when the block ends.

    Raising from the handler itself could land in a finaliser (where Python drops it, and the run
    trains on) or inside ``torch.save`` (which turns it into another error); a second signal still
    raises at once. Main thread only; elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGTERM] if sigterm else []
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        wanted.append(signal.SIGINT)
    previous = {signum: signal.signal(signum, _defer) for signum in wanted}
    _requested.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if not isinstance(sys.exc_info()[1], (KeyboardInterrupt, Terminated)):
            stop_point()  # a stop that came while the block ended (or failed) still stops
        _requested.clear()


def stop_point() -> None:
    """Raise :class:`Terminated` or ``KeyboardInterrupt`` if a stop was requested (see
    :func:`stops_at_safe_points`)."""
    if _requested:
        _raise_for(_requested.pop())
