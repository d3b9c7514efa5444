"""User-facing errors: one line that says what is wrong and where (file:line, key, setting)."""
from __future__ import annotations


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
