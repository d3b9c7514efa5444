"""The exclusive claim of a run: one process at a time executes it.

Before a run executes, its process creates ``lock.json`` in the run directory (atomically;
creating fails when the file exists) naming its host, pid, start time and job. A process that
finds the lock leaves the run alone while the holder may still run, and takes the lock over
only when the holder is provably gone:

- it ran on this host and that process has ended (or its pid now names another process);
- it was an earlier start of this same job (Slurm and submitit start a requeued job again
  only after the previous start ended);
- it is a Slurm job that ``squeue`` no longer lists.

A holder on another host that is not a Slurm job is never taken over on a guess: once you know
it is gone, ``omnibench unlock SUITE --run ID`` takes its lock over (:func:`take_over`). The
holder releases the lock after recording the run's end, so a run that stays ``running`` with a
dead holder, or with none, was killed (see :func:`holder_alive`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnibench import slurm_client
from omnibench.atomic import create_exclusive, remove_leftovers, temp_path
from omnibench.errors import CorruptFileError, OmniBenchError
from omnibench.process import ProcessId
from omnibench.store.run_files import LOCK_FILE

CLAIM_ATTEMPTS = 5  # takeovers raced by other processes before giving up


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a run: the process, its job (``cluster``: slurm | local | None) and since when."""

    process: ProcessId
    job_id: str | None = None
    cluster: str | None = None
    since: str = ""
    token: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``lock.json``."""
        return {
            **self.process.to_dict(),
            "job_id": self.job_id,
            "cluster": self.cluster,
            "since": self.since,
            "token": self.token,
        }

    def __str__(self) -> str:
        job = f", job {self.job_id}" if self.job_id else ""
        return f"{self.process}{job} since {self.since}"


def read_holder(run_dir: Path) -> Holder | None:
    """The holder named by ``run_dir/lock.json``, or None when the run is not claimed."""
    path = run_dir / LOCK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):  # not claimed (or no run folder at all)
        return None
    except (OSError, ValueError) as err:
        raise CorruptFileError(path, f"unreadable run lock ({err})") from None
    process = ProcessId.from_dict(data) if isinstance(data, dict) else None
    if process is None:
        raise CorruptFileError(path, "not a run lock (no host and pid)")
    return Holder(
        process,
        data.get("job_id"),
        data.get("cluster"),
        str(data.get("since", "")),
        str(data.get("token", "")),
    )


def holder_alive(holder: Holder, job_id: str | None = None, ask_slurm: bool = False) -> bool | None:
    """True if the holder still runs, False if it is provably gone, None if that cannot be told.

    ``job_id``: the asking process's own job (an earlier start of it is gone); ``ask_slurm``:
    query ``squeue`` about a Slurm holder on another host.
    """
    if job_id is not None and holder.job_id == job_id and holder.process != ProcessId.current():
        return False
    alive = holder.process.alive()
    if (
        alive is None
        and ask_slurm
        and holder.cluster == "slurm"
        and holder.job_id
        and slurm_client.job_ended(holder.job_id)
    ):
        return False
    return alive


def claim(
    run_dir: Path, job_id: str | None = None, cluster: str | None = None
) -> tuple[Holder, bool]:
    """Claim the run in ``run_dir``: ``(our holder, True)``, or ``(the live holder, False)``."""
    since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    mine = Holder(ProcessId.current(), job_id, cluster, since, secrets.token_hex(8))
    path = run_dir / LOCK_FILE
    for _ in range(CLAIM_ATTEMPTS):
        if create_exclusive(path, json.dumps(mine.to_dict(), indent=2) + "\n"):
            remove_leftovers(run_dir)  # we alone write here now: what killed writers left can go
            return mine, True
        held = read_holder(run_dir)
        if held is None:  # released meanwhile
            continue
        if holder_alive(held, job_id, ask_slurm=True) is not False:
            return held, False
        _take_over(path, held)
    raise OmniBenchError(f"{path}: could not claim the run; other processes keep taking it over")


def take_over(run_dir: Path, stale: Holder) -> None:
    """Remove ``stale``'s lock of the run in ``run_dir`` (a holder known to be gone); a newer lock
    that another process made meanwhile is left in place."""
    _take_over(run_dir / LOCK_FILE, stale)


def _take_over(path: Path, stale: Holder) -> None:
    """Remove ``stale``'s lock; a newer lock that another process made meanwhile is put back."""
    aside = temp_path(path)
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another process took it over first
        return
    try:
        if json.loads(aside.read_text(encoding="utf-8")).get("token") != stale.token:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def release(run_dir: Path, mine: Holder) -> None:
    """Remove the lock if it is still ``mine``."""
    with contextlib.suppress(OmniBenchError):
        held = read_holder(run_dir)
        if held is not None and held.token == mine.token:
            (run_dir / LOCK_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def claimed(
    run_dir: Path, job_id: str | None = None, cluster: str | None = None
) -> Iterator[Holder | None]:
    """Hold the run for the block: yields None when claimed, else the live holder (leave the run
    alone)."""
    holder, ours = claim(run_dir, job_id, cluster)
    if not ours:
        yield holder
        return
    try:
        yield None
    finally:
        release(run_dir, holder)
