"""Whether a video file can be read at all (missing, unreadable, empty), said before any decoder
sees it: the reasons ``data check``, the loader and ``data prepare`` give alike. Torch-free."""

from __future__ import annotations

from pathlib import Path

from omnibench.errors import OmniBenchError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov")  # what a folder of videos holds


class BrokenVideoError(OmniBenchError):
    """A video that cannot be read; reaches the caller only in strict mode (else the item is marked
    broken)."""


MISSING = "missing video file"
EMPTY = "empty (zero-byte) video file"


def unreadable_reason(error: OSError) -> str:
    """Why a video file could not be opened or read, as the loader and the pre-training check say
    it."""
    if isinstance(error, FileNotFoundError):
        return MISSING
    if isinstance(error, PermissionError):
        return "permission denied (the file or a folder above it is not readable by this user)"
    if isinstance(error, IsADirectoryError):
        return "a folder, not a video file"
    return f"cannot read ({error.strerror})"


def check_readable(path: Path) -> None:
    """Raise :class:`BrokenVideoError` for a missing, unreadable (permissions) or empty file."""
    try:
        with open(path, "rb") as handle:
            empty = not handle.read(1)
    except OSError as error:
        raise BrokenVideoError(f"{path}: {unreadable_reason(error)}") from None
    if empty:
        raise BrokenVideoError(f"{path}: {EMPTY}")
