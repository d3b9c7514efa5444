"""The run store: ``<root>/<suite>/<run_id>/`` holds everything one run writes.

Layout of a run directory: ``spec.json`` (the canonical spec), ``status.json`` (state,
Slurm job id, last update, one-line error, log path), ``log.txt``, ``checkpoint.pt``,
``predictions.csv`` and, once finished, ``record.json``. A run is finished exactly when its
record exists: protocols write it atomically as their very last step.

Every write goes to a temporary file in the same directory, is fsynced, and replaces the
target with ``os.replace``, so the many processes of a Slurm job array can share one store
(on a cluster's shared filesystem) and a reader never sees half a file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from omnibench.errors import OmniBenchError
from omnibench.spec import RunSpec, identity

STATES = ("pending", "running", "done", "failed")
RESULTS_ENV = "OMNIBENCH_RESULTS"
SPEC_FILE, STATUS_FILE, RECORD_FILE = "spec.json", "status.json", "record.json"
SUITE_SOURCE_FILE = "suite.json"  # <root>/<suite>/suite.json: the suite file its runs came from
LOG_FILE, CHECKPOINT_FILE, PREDICTIONS_FILE = "log.txt", "checkpoint.pt", "predictions.csv"


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
        core = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**dict(self.extra), **core}


class StoredRun(NamedTuple):
    """One run directory found in the store."""

    suite: str
    run_id: str
    path: Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a fsynced temporary file and ``os.replace``."""
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def create_exclusive(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` only if it does not exist yet; True if this call created it.

    ``os.link`` of a complete temporary file is atomic and fails when the target exists, so
    concurrent creators never overwrite each other or a newer file.
    """
    tmp = _write_temp(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def _write_temp(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _fsync_dir(directory: Path) -> None:
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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise OmniBenchError(f"{path}: not valid JSON ({err}); delete the run with --force") from None


class RunStore:
    """Runs under ``root``, one directory per ``(suite, run_id)``."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = results_root(root)

    def run_dir(self, suite: str, run_id: str) -> Path:
        """Directory of one run (not created)."""
        return self.root / suite / run_id

    def log_path(self, suite: str, run_id: str) -> Path:
        """Where the run's log goes."""
        return self.run_dir(suite, run_id) / LOG_FILE

    def prepare(self, suite: str, spec: RunSpec) -> Path:
        """Create the run directory with ``spec.json`` and a ``pending`` status unless present."""
        run_dir = self.run_dir(suite, spec.run_id())
        wanted = spec.to_dict()
        spec_text = json.dumps(wanted, indent=2, sort_keys=True) + "\n"
        stored = wanted if create_exclusive(run_dir / SPEC_FILE, spec_text) else _read_json(run_dir / SPEC_FILE)
        if not isinstance(stored, dict) or identity(stored) != identity(wanted):
            raise OmniBenchError(f"{run_dir / SPEC_FILE}: holds a different spec than run {spec.run_id()}")
        status = RunStatus("pending", updated=_now(), log=str(run_dir / LOG_FILE))
        create_exclusive(run_dir / STATUS_FILE, json.dumps(status.to_dict(), indent=2, sort_keys=True) + "\n")
        return run_dir

    def read_spec(self, suite: str, run_id: str) -> dict[str, Any] | None:
        """The stored ``spec.json`` as a dict, or None."""
        return _read_json(self.run_dir(suite, run_id) / SPEC_FILE)

    def read_status(self, suite: str, run_id: str) -> RunStatus | None:
        """The run's status, or None when the run was never prepared."""
        path = self.run_dir(suite, run_id) / STATUS_FILE
        data = _read_json(path)
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("state") not in STATES:
            raise OmniBenchError(f"{path}: no valid 'state' (one of {', '.join(STATES)})")
        core = {f.name for f in dataclasses.fields(RunStatus)} - {"extra"}
        extra = {k: v for k, v in data.items() if k not in core}
        return RunStatus(**{k: data.get(k) for k in core}, extra=extra)

    def write_status(self, suite: str, run_id: str, state: str, **fields: Any) -> RunStatus:
        """Set the run's state; ``job_id``, ``log`` and extra fields carry over unless given.

        ``error`` (kept to its first line) belongs to the new state only.
        """
        if state not in STATES:
            raise ValueError(f"unknown run state '{state}'; one of {', '.join(STATES)}")
        previous = self.read_status(suite, run_id)
        base = previous.to_dict() if previous is not None else {"log": str(self.log_path(suite, run_id))}
        error = fields.pop("error", None)
        merged = {**base, **fields, "state": state, "updated": _now(), "error": _first_line(error)}
        atomic_write_json(self.run_dir(suite, run_id) / STATUS_FILE, merged)
        return self.read_status(suite, run_id) or RunStatus(state)

    def read_record(self, suite: str, run_id: str) -> dict[str, Any] | None:
        """The run record (``record.json``) of a finished run, else None."""
        return _read_json(self.run_dir(suite, run_id) / RECORD_FILE)

    def is_done(self, suite: str, run_id: str) -> bool:
        """True once the run's record exists (protocols write it last, atomically)."""
        return (self.run_dir(suite, run_id) / RECORD_FILE).is_file()

    def has_checkpoint(self, suite: str, run_id: str) -> bool:
        """True when an interrupted run can resume from its checkpoint."""
        return (self.run_dir(suite, run_id) / CHECKPOINT_FILE).is_file()

    def clear(self, suite: str, run_id: str) -> None:
        """Delete a run's directory (``--force``, ``omnibench rm``): renamed away first, so it vanishes at once."""
        self._discard(self.run_dir(suite, run_id))

    def remove_suite(self, suite: str) -> None:
        """Delete a suite's whole folder: its runs, ``suite.json`` and Slurm job logs."""
        self._discard(self.root / suite)

    def _discard(self, path: Path) -> None:
        """Remove ``path``, which must lie inside the store; a symlink is removed, never followed."""
        root = self.root.resolve()
        if root not in (path.parent.resolve() / path.name).parents:
            raise OmniBenchError(f"{path}: not inside the run store {root}; nothing removed")
        if path.is_symlink():
            path.unlink()
            return
        trash = path.with_name(f".deleted-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.replace(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def remember_suite(self, suite: str, path: Path) -> None:
        """Record which file defines ``suite``, so a suite run by path is found by its name later."""
        atomic_write_json(self.root / suite / SUITE_SOURCE_FILE, {"path": str(Path(path).resolve())})

    def suite_source(self, suite: str) -> Path | None:
        """The suite file recorded by :meth:`remember_suite`, or None."""
        data = _read_json(self.root / suite / SUITE_SOURCE_FILE)
        return Path(data["path"]) if isinstance(data, dict) and data.get("path") else None

    def suites(self) -> list[str]:
        """Names of the suites that have runs in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def iter_runs(self, suite: str | None = None) -> Iterator[StoredRun]:
        """Every prepared run (a directory with ``spec.json``), sorted by suite and run id."""
        for name in [suite] if suite is not None else self.suites():
            suite_dir = self.root / name
            if not suite_dir.is_dir():
                continue
            for run_dir in sorted(suite_dir.iterdir()):
                if not run_dir.name.startswith(".") and (run_dir / SPEC_FILE).is_file():
                    yield StoredRun(name, run_dir.name, run_dir)


def _first_line(error: object) -> str | None:
    """One line of ``error``; for a traceback, its last line (the exception)."""
    if error is None:
        return None
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return str(error)
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
