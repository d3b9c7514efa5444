"""The run store: ``<root>/<suite>/<run_id>/`` holds everything one run writes.

Layout of a run directory: ``spec.json`` (the canonical spec), ``status.json`` (state,
Slurm job id, last update, one-line error, log path), ``log.txt``, ``checkpoint.pt``,
``train_steps.json`` (the training curve), ``predictions.csv``, TensorBoard's event file when
asked for and, once finished, ``record.json``. A run is finished exactly when its
record exists: protocols write it atomically as their very last step.

Every write is atomic (:mod:`omnibench.atomic`), so the many processes of a Slurm job array
can share one store (on a cluster's shared filesystem) and a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pwd
import re
import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from omnibench.atomic import (
    atomic_write_json,
    atomic_write_text,
    create_exclusive,
    remove_leftovers,
    temp_path,
)
from omnibench.config.spec import RunSpec, identity
from omnibench.errors import CorruptFileError, OmniBenchError
from omnibench.store.acceptance import record_shape_problem
from omnibench.store.run_files import (
    CHECKPOINT_FILE,
    LOG_FILE,
    RECORD_FILE,
    SPEC_FILE,
    STATUS_FILE,
    SUITE_SOURCE_FILE,
    json_object,
    read_json,
    read_json_object,
)
from omnibench.store.states import RECORDED

__all__ = [
    "CorruptFileError",
    "RunStatus",
    "RunStore",
    "StoredRun",
    "atomic_write_json",
    "atomic_write_text",
    "create_exclusive",
    "results_root",
]

RESULTS_ENV = "OMNIBENCH_RESULTS"
STORE_NAME = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._+-]*"
)  # suite and run folder names: never '..', never hidden


def checked_name(name: str, what: str) -> str:
    """``name`` if it can name a folder inside the store: no path separator, no leading dot."""
    if not STORE_NAME.fullmatch(name):
        raise OmniBenchError(
            f"{what} '{name}' cannot name a folder in the run store: use letters, digits and "
            "'.', '_', '+', '-', starting with a letter or digit"
        )
    return name


def results_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The store root: ``--results DIR`` > ``$OMNIBENCH_RESULTS`` > ``results/``."""
    if override is not None and str(override) != "":
        return Path(override).expanduser()
    env = os.environ.get(RESULTS_ENV, "").strip()
    return Path(env).expanduser() if env else Path("results")


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """Contents of ``status.json``; ``extra`` keeps any further fields a writer added."""

    state: str
    job_id: str | None = None
    updated: str | None = None
    error: str | None = None
    log: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to ``status.json``."""
        core = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"
        }
        return {**dict(self.extra), **core}


class StoredRun(NamedTuple):
    """One run directory found in the store."""

    suite: str
    run_id: str
    path: Path


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class RunStore:
    """Runs under ``root``, one directory per ``(suite, run_id)``."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = results_root(root)
        self._suite_dirs: dict[tuple[Path, str], Path] = {}  # asked for once per run

    def suite_dir(self, suite: str) -> Path:
        """Folder of one suite's runs (not created); a name that would leave the store is
        refused."""
        key = (self.root, suite)
        if key not in self._suite_dirs:
            self._suite_dirs[key] = self.root / checked_name(suite, "suite name")
        return self._suite_dirs[key]

    def ensure_writable(self) -> None:
        """Create the store's root if needed; one line naming it when it is a file or not
        writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise OmniBenchError(
                f"run store {self.root} is a file, not a folder (change --results)"
            ) from None
        except OSError as err:
            raise OmniBenchError(
                f"run store {self.root} cannot be created: {err.strerror} (change --results)"
            ) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OmniBenchError(
                f"run store {self.root} is not writable by this user (change --results)"
            )

    def write_problem(self, suite: str, run_ids: Sequence[str]) -> str | None:
        """Why this user cannot write the runs ``run_ids`` of ``suite`` (None: it can): the first
        folder they need that is not writable, e.g. a colleague's suite folder in a shared store."""
        needed = [self.root, self.suite_dir(suite), *(self.run_dir(suite, r) for r in run_ids)]
        for path in needed:
            existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
            if not existing.is_dir():  # a file where a folder should be: ensure_writable says so
                return None
            if os.access(existing, os.W_OK | os.X_OK):
                continue
            if existing == self.root or existing in self.root.parents:
                return f"run store {self.root} is not writable by this user (change --results)"
            return (
                f"run store folder {existing} belongs to {_owner(existing)} and is not writable by "
                "this user: use your own --results, or ask its owner to let you write it"
            )
        return None

    def run_dir(self, suite: str, run_id: str) -> Path:
        """Directory of one run (not created)."""
        return self.suite_dir(suite) / checked_name(run_id, "run id")

    def log_path(self, suite: str, run_id: str) -> Path:
        """Where the run's log goes."""
        return self.run_dir(suite, run_id) / LOG_FILE

    def prepare(self, suite: str, spec: RunSpec) -> Path:
        """Create the run directory with ``spec.json`` unless present.

        It gets no status: until a job is queued for it (``pending``) or it starts
        (``running``), the run stays ``new``, which stays true when a launch stops early."""
        run_dir = self.run_dir(suite, spec.run_id())
        wanted = spec.to_dict()
        spec_text = json.dumps(wanted, indent=2, sort_keys=True) + "\n"
        stored = (
            wanted
            if create_exclusive(run_dir / SPEC_FILE, spec_text)
            else read_json_object(run_dir / SPEC_FILE, "a run spec")
        )
        if stored is None or identity(stored) != identity(wanted):
            raise OmniBenchError(
                f"{run_dir / SPEC_FILE}: holds a different spec than run {spec.run_id()}"
            )
        return run_dir

    def read_spec(self, suite: str, run_id: str) -> dict[str, Any] | None:
        """The stored ``spec.json`` as a dict, or None (:class:`CorruptFileError` if unreadable)."""
        return read_json_object(self.run_dir(suite, run_id) / SPEC_FILE, "a run spec")

    def read_status(self, suite: str, run_id: str) -> RunStatus | None:
        """The run's status, or None when the run never started (:class:`CorruptFileError` if
        unreadable)."""
        path = self.run_dir(suite, run_id) / STATUS_FILE
        return status_from(read_json(path), path)

    def write_status(self, suite: str, run_id: str, state: str, **fields: Any) -> RunStatus:
        """Set the run's state; ``job_id``, ``log`` and extra fields carry over unless given.

        ``error`` (kept to its first line) belongs to the new state only.
        """
        if state not in RECORDED:
            raise ValueError(f"unknown run state '{state}'; one of {', '.join(RECORDED)}")
        try:
            previous = self.read_status(suite, run_id)
        except CorruptFileError:  # replaced by this write
            previous = None
        base = previous.to_dict() if previous is not None else {}
        base["log"] = LOG_FILE  # relative to the run's folder: a copied or moved store keeps it
        error = fields.pop("error", None)
        merged = {**base, **fields, "state": state, "updated": _now(), "error": _first_line(error)}
        atomic_write_json(self.run_dir(suite, run_id) / STATUS_FILE, merged)
        return self.read_status(suite, run_id) or RunStatus(state)

    def read_record(self, suite: str, run_id: str) -> dict[str, Any] | None:
        """The run record (``record.json``) of a finished run, else None; :class:`CorruptFileError`
        when it is unreadable or lacks the fields of a record (:func:`record_shape_problem`)."""
        path = self.run_dir(suite, run_id) / RECORD_FILE
        record = read_json_object(path, "a run record")
        problem = None if record is None else record_shape_problem(record, run_id)
        if problem is not None:
            raise CorruptFileError(path, problem)
        return record

    def is_done(self, suite: str, run_id: str) -> bool:
        """True once the run's record exists and reads as a record (protocols write it last,
        atomically); whether its numbers count is :func:`~omnibench.store.acceptance.verdict`'s
        call."""
        try:
            return self.read_record(suite, run_id) is not None
        except CorruptFileError:
            return False

    def has_checkpoint(self, suite: str, run_id: str) -> bool:
        """True when an interrupted run can resume from its checkpoint."""
        return self.checkpoint_path(suite, run_id).is_file()

    def checkpoint_path(self, suite: str, run_id: str) -> Path:
        """Where a run's checkpoint is (it may not exist)."""
        return self.run_dir(suite, run_id) / CHECKPOINT_FILE

    @classmethod
    def holding(cls, run_dir: Path) -> RunStore:
        """The store that a run's folder (``<root>/<suite>/<run_id>``) is in."""
        return cls(Path(run_dir).parent.parent)

    def clear(self, suite: str, run_id: str) -> None:
        """Delete a run's directory (``--force``, ``omnibench rm``): renamed away first, so it
        vanishes at once."""
        self._discard(self.run_dir(suite, run_id))

    def remove_suite(self, suite: str) -> None:
        """Delete a suite's whole folder: its runs, ``suite.json`` and Slurm job logs."""
        self._discard(self.suite_dir(suite))

    def _discard(self, path: Path) -> None:
        """Remove ``path``, which must lie inside the store; a symlink is removed, never
        followed."""
        root = self.root.resolve()
        if root not in (path.parent.resolve() / path.name).parents:
            raise OmniBenchError(f"{path}: not inside the run store {root}; nothing removed")
        if path.is_symlink():
            path.unlink()
            return
        trash = temp_path(
            path
        )  # names this process: what a killed deletion leaves is removed later
        try:
            os.replace(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)
        remove_leftovers(path.parent)

    def remember_suite(self, suite: str, path: Path) -> None:
        """Record which file defines ``suite``, so a suite run by path is found by its name
        later."""
        atomic_write_json(
            self.suite_dir(suite) / SUITE_SOURCE_FILE, {"path": str(Path(path).resolve())}
        )

    def suite_source(self, suite: str) -> Path | None:
        """The suite file recorded by :meth:`remember_suite`, or None."""
        try:
            data = read_json(self.suite_dir(suite) / SUITE_SOURCE_FILE)
        except CorruptFileError:  # rewritten by the next run from the suite's file
            return None
        return Path(data["path"]) if isinstance(data, dict) and data.get("path") else None

    def suites(self) -> list[str]:
        """Names of the suites that have runs in the store."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def iter_runs(self, suite: str | None = None) -> Iterator[StoredRun]:
        """Every prepared run (a directory with ``spec.json``), sorted by suite and run id."""
        for name in [suite] if suite is not None else self.suites():
            for run_id in self.run_ids(name):
                yield StoredRun(name, run_id, self.suite_dir(name) / run_id)

    def run_ids(self, suite: str, besides: Collection[str] = ()) -> list[str]:
        """The ids of the suite's prepared runs (folders with ``spec.json``), sorted; with
        ``besides``, only those not in it (the runs a suite no longer defines: thousands of known
        ones are not looked at)."""
        folder = str(self.suite_dir(suite))
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [
            name
            for name in names
            if not name.startswith(".")
            and name not in besides
            and os.path.isfile(os.path.join(folder, name, SPEC_FILE))
        ]


_STATUS_FIELDS = tuple(f.name for f in dataclasses.fields(RunStatus) if f.name != "extra")


def status_from(data: Any, path: str | os.PathLike[str]) -> RunStatus | None:
    """The :class:`RunStatus` in ``data`` (read from ``path``; None: no status file);
    :class:`CorruptFileError` when it is not one."""
    if not isinstance(data, dict):  # (a status read as it should be makes no Path)
        data = json_object(data, Path(path), "a run status")
    if data is None:
        return None
    if data.get("state") not in RECORDED:
        raise CorruptFileError(Path(path), f"no valid 'state' (one of {', '.join(RECORDED)})")
    extra = {k: v for k, v in data.items() if k not in _STATUS_FIELDS}
    values: dict[str, Any] = {k: data.get(k) for k in _STATUS_FIELDS}
    return RunStatus(**values, extra=extra)


def _owner(path: Path) -> str:
    """The user owning ``path``: a name where this machine knows it, else the uid."""
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _first_line(error: object) -> str | None:
    """One line of ``error``; for a traceback, its last line (the exception)."""
    if error is None:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return str(error)
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
