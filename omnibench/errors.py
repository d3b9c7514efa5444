"""User-facing errors: one line that says what is wrong and where (file:line, key, setting)."""

from __future__ import annotations

import errno
from pathlib import Path

NAME_MAX = 255  # bytes in one file or folder name on Linux filesystems


class OmniBenchError(Exception):
    """An error caused by the user's input; the CLI prints it on one line and exits non-zero."""

    exit_code: int = 2


class UnknownNameError(OmniBenchError, KeyError):
    """A name that is not in a registry (model, dataset, suite, protocol...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptFileError(OmniBenchError):
    """A file of the run store that cannot be what it should be (truncated, not JSON, missing
    fields): its run is ``corrupt``; ``omnibench rm SUITE --run ID`` or ``run --force`` clears
    it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class NoSpaceError(OmniBenchError):
    """The filesystem (or the user's quota) holding a file omnibench writes is full: the file is
    left as it was, and nothing more can be written there until space is freed."""


def os_error(error: OSError) -> OmniBenchError | None:
    """A one-line error for what the system refused about a file (None when no file is named): a
    name too long says which part and the limit."""
    if error.filename is None:
        return None
    name = str(error.filename)
    if error.errno == errno.ENAMETOOLONG:
        longest = max(Path(name).parts, key=lambda part: len(part.encode()), default=name)
        return OmniBenchError(
            f"{name}: file name too long ('{longest[:40]}...' has {len(longest.encode())} bytes; "
            f"a name may have at most {NAME_MAX})"
        )
    return OmniBenchError(f"{name}: {error.strerror or error}")


def where(path: object, line: int | None = None) -> str:
    """Format a location as ``path:line`` (or just ``path``)."""
    return f"{path}:{line}" if line is not None else f"{path}"


def read_text(path: Path) -> str:
    """A user's UTF-8 text file; unreadable or not UTF-8 is a one-line error naming the file (and
    line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise OmniBenchError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise OmniBenchError(
            f"{where(path, line)}: not UTF-8 text (byte 0x{data[err.start]:02x}); "
            "save the file as UTF-8"
        ) from None
