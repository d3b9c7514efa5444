"""Atomic file writes that follow the umask, and the clean-up of what killed writers left.

Every write goes to a temporary file in the target's folder, is fsynced, and replaces the
target with ``os.replace``: a reader never sees half a file, and the many processes of a Slurm
job array can share one store on a cluster's filesystem. A temporary name is unique and names
its writer (``.<name>.<pid>@<host>.<random>.tmp``), so what a killed writer left behind is
recognised, and removed, once that process is provably gone. Files are created with mode
0666 minus the umask, like any other program's: colleagues read a shared store.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from omnibench.errors import NAME_MAX, NoSpaceError
from omnibench.process import ProcessId, hostname

_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[^@/]+)\.[0-9a-f]{8}\.tmp")


FULL = {errno.ENOSPC: "no space left", errno.EDQUOT: "disk quota exceeded"}


def temp_path(path: Path) -> Path:
    """A fresh temporary name next to ``path`` that names this process (the target's name is
    shortened where the whole would exceed :data:`NAME_MAX`)."""
    suffix = f".{os.getpid()}@{hostname()}.{secrets.token_hex(4)}.tmp"
    room = NAME_MAX - len(suffix.encode()) - 1
    name = path.name.encode()[:room].decode(errors="ignore")
    return path.with_name(f".{name}{suffix}")


def full_disk(error: BaseException | None) -> OSError | None:
    """The ENOSPC / EDQUOT error behind ``error``: itself, or what caused it (``torch.save`` turns
    one into ``RuntimeError: ... unexpected pos``, keeping the OSError as its context)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in FULL:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding ``path`` (its nearest existing folder)."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    device = current.stat().st_dev
    while current != current.parent and current.parent.stat().st_dev == device:
        current = current.parent
    return current


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Within the block, a full disk or quota while writing ``path`` raises :class:`NoSpaceError`
    naming the filesystem and the file, instead of a bare ENOSPC (or torch's "unexpected pos")."""
    try:
        yield
    except NoSpaceError:
        raise
    except Exception as error:
        full = full_disk(error)
        if full is None:
            raise
        raise NoSpaceError(
            f"{FULL[full.errno or errno.ENOSPC]} on {mount_point(path)} while writing {path}; "
            "free space (or raise the quota) and run again: interrupted runs resume"
        ) from error


def _create_temp(path: Path) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temp_path(path)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


@contextlib.contextmanager
def atomic_output(
    path: Path, binary: bool = False, temp_for: Path | None = None
) -> Iterator[IO[Any]]:
    """A file whose contents replace ``path`` in one step when the block ends without error; on a
    full disk ``path`` stays as it was and :class:`NoSpaceError` names both (:func:`writing`).

    ``temp_for``: the name the temporary file is named after, when ``path``'s own name must not
    show (a folder watcher that reads every file whose name looks like ``path``'s)."""
    with writing(path):
        fd, tmp = _create_temp(temp_for or path)
        try:
            with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(Path(path)) as handle:
        handle.write(text)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def create_exclusive(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` only if it does not exist yet; True if this call created it.

    ``os.link`` of a complete temporary file is atomic and fails when the target exists, so
    concurrent creators never overwrite each other or a newer file.
    """
    with writing(path):
        fd, tmp = _create_temp(path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some network filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def writer_gone(name: str) -> bool:
    """True if ``name`` is one of our temporary names and its writer provably ended."""
    match = _TEMP_NAME.fullmatch(name)
    return match is not None and ProcessId(match["host"], int(match["pid"])).alive() is False


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete the temporary files and folders in ``directory`` whose writer is provably gone."""
    try:
        names = [entry.name for entry in os.scandir(directory) if entry.name.startswith(".")]
    except OSError:
        return []
    removed = []
    for name in names:
        if writer_gone(name):
            path = directory / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
