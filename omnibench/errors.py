"""User-facing errors: one line that says what is wrong and where (file:line, key, setting)."""

from __future__ import annotations

from pathlib import Path


class OmniBenchError(Exception):
    """An error caused by the user's input; the CLI prints it on one line and exits non-zero."""

    exit_code: int = 2


class UnknownNameError(OmniBenchError, KeyError):
    """A name that is not in a registry (model, dataset, suite, protocol...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


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
