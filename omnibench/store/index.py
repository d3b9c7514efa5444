"""The store's index: what the files of a suite's finished runs say, kept so that a suite of
thousands of runs is judged without reading thousands of files.

``<results>/<suite>/.index.json`` holds, for each run with a ``record.json``, what ``status``,
``run`` and ``report`` derive from its files: the verdict of its record alone
(:func:`~omnibench.store.acceptance.record_verdict`), the annotation files it read (checked
again on every use: a changed file makes the run ``stale`` whatever the index says), its status,
its headline top-1 and its skipped videos. The run folders stay the source of truth. An entry
counts only while the ``record.json``, ``status.json`` and ``spec.json`` it was read from are the
very files in the run's folder (inode, size and modification time, taken from the open file: every
write in the store replaces a file, so a rewrite is a new inode), and only for the omnibench code
that made it (a fingerprint of the package's source files and of today's model and protocol
revisions and option defaults: after an upgrade every record is read, and its verdict, ``stale``
by another revision included, made again). No
entry is kept, nor served, for a run with a file that cannot be read (it is read, and shown
``corrupt``, every time) or with a ``lock.json`` (a process holds it, or its lock is corrupt).
Files changed in the last ``RECENT_S`` seconds are read but not kept (a modification time may not
have moved yet).
A missing, corrupt or foreign index is rebuilt from the run folders; one that cannot be written (a
read-only store, a full disk) is not kept, and nothing else changes. Runs without a record change
state while they run: they are always read. The index is written atomically as a whole, so two
invocations at worst redo each other's work; it never decides that a run executes (claims do).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_text
from omnibench.errors import CorruptFileError
from omnibench.store.acceptance import (
    files_verdict,
    record_shape_problem,
    record_verdict,
    skipped,
)
from omnibench.store.chance import run_at_chance
from omnibench.store.revisions import revisions_stamp
from omnibench.store.run_files import (
    INDEX_FILE,
    LOCK_FILE,
    RECORD_FILE,
    SPEC_FILE,
    STATUS_FILE,
    json_object,
    read_json_stat,
)
from omnibench.store.run_store import RunStatus, RunStore, checked_name, status_from
from omnibench.store.shared_sections import share, unshare
from omnibench.store.states import RunState

FORMAT = 5  # of the index file; another one is rebuilt
RECENT_S = 2.0  # files younger than this are read but not kept in the index
SHARED = ("files", "skipped", "spec")  # entry fields most runs of a suite have alike

FileKey = list[int]  # [inode, size, mtime_ns] of the file an entry was read from
Verdict = tuple[str, str | None]  # a state and why (acceptance.verdict)


@dataclasses.dataclass(frozen=True)
class Finished:
    """What the files of a run with a record say (see the module docstring)."""

    state: str  # the record's own verdict: done | failed | stale (another revision computed it)
    reason: str | None
    files: Mapping[str, str]  # annotation file -> sha256, as the run read them
    status: RunStatus | None
    top1: float | None  # headline top-1 (the mean over splits where there are several)
    at_chance: bool  # every evaluation no better than guessing (report.chance.run_at_chance)
    limit: int | None  # the run's --limit
    skipped: Mapping[str, Any]  # acceptance.Skipped's fields
    spec: Mapping[str, Any]  # protocol, dataset and model name of its spec
    record_key: FileKey | None = None  # the key of the record.json all this was read from

    def verdict(self, checked: dict[Any, Verdict] | None = None) -> Verdict:
        """``done``, ``failed`` or ``stale`` (the record's verdict), or ``stale`` (an annotation
        file changed since); ``checked``: the sets of files already checked in this pass, with
        their verdict."""
        if self.state != RunState.DONE:
            return self.state, self.reason
        if checked is None:
            return files_verdict(self.files)
        key = tuple(sorted(self.files.items()))
        if key not in checked:
            checked[key] = files_verdict(self.files)
        return checked[key]


def headline(record: Mapping[str, Any]) -> tuple[float | None, int | None]:
    """A record's headline top-1 (``top1_mean`` where there are several splits) and ``--limit``."""
    metrics = record.get("metrics") or {}
    value = metrics.get("top1_mean", metrics.get("top1"))
    limit = (record.get("spec") or {}).get("limit")
    return (value if isinstance(value, (int, float)) else None), limit


@functools.cache
def code_fingerprint() -> str:
    """Changes whenever a source file of the omnibench package does (path, size, mtime)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(str(FORMAT).encode())
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(package)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def index_code() -> str:
    """What an index must have been made by to count: this omnibench's code
    (:func:`code_fingerprint`) with today's model and protocol revisions and option defaults
    (:func:`~omnibench.store.revisions.revisions_stamp`: the records' verdicts depend on them)."""
    return f"{code_fingerprint()}-{revisions_stamp()}"


def _key(stat: os.stat_result | None) -> FileKey | None:
    return None if stat is None else [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def stat_key(path: str) -> FileKey | None:
    """The key of the file at ``path`` as it is now (None: there is none)."""
    try:
        return _key(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


# The index as this process last read or wrote it, with the key of that file: a second look at
# the same suite (``run`` plans before and after executing) does not parse it again.
_LOADED: dict[Path, tuple[FileKey | None, str, dict[str, Any]]] = {}


class SuiteIndex:
    """The index of one suite's folder: :meth:`finished` per run, :meth:`save` once at the end."""

    def __init__(self, store: RunStore, suite: str) -> None:
        self.store, self.suite = store, suite
        self.folder = store.suite_dir(suite)
        self.path = self.folder / INDEX_FILE
        self.code = index_code()
        self.entries = self._load()
        self.changed = False

    def _load(self) -> dict[str, Any]:
        known, key = _LOADED.get(self.path), stat_key(str(self.path))
        if known is not None and key is not None and known[:2] == (key, self.code):
            return dict(known[2])
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable or corrupt: rebuilt
            return {}
        valid = isinstance(data, dict) and data.get("code") == self.code
        runs = data.get("runs") if valid else None
        shared = data.get("shared") if valid else None
        if not isinstance(runs, dict) or not isinstance(shared, list):
            return {}
        runs = {
            run_id: found
            for run_id, entry in runs.items()
            if (found := _unshared(entry, shared)) is not None
        }
        _LOADED[self.path] = (key, self.code, runs)
        return dict(runs)

    def finished(self, run_id: str) -> Finished | None:
        """What the run's files say when it has a record and no claim (None: it has none, a file
        of it is corrupt, or it has a ``lock.json``; :func:`judged_state` reads such a run)."""
        run_dir = f"{self.folder}/{checked_name(run_id, 'run id')}/"  # (a separator per file)
        paths = [run_dir + name for name in (RECORD_FILE, STATUS_FILE, SPEC_FILE)]
        keys = [stat_key(path) for path in paths]
        entry = self.entries.get(run_id)
        try:
            if keys[0] is None or os.path.lexists(run_dir + LOCK_FILE):
                raise LookupError(run_id)
            if not isinstance(entry, dict) or entry.get("keys") != keys:
                entry = self._read(run_id, *paths)
            try:
                return _finished(entry, paths[1])
            except (KeyError, TypeError, ValueError):  # an entry of another shape: read the files
                return _finished(self._read(run_id, *paths), paths[1])
        except (LookupError, CorruptFileError):
            if self.entries.pop(run_id, None) is not None:
                self.changed = True
            return None

    def _read(
        self, run_id: str, record_path: str, status_path: str, spec_path: str
    ) -> dict[str, Any]:
        """An entry from the run's files, kept unless they changed a moment ago;
        :class:`CorruptFileError` when one is not what it should be, ``LookupError`` when the
        record is gone."""
        record, record_stat = read_json_stat(Path(record_path))
        if record is None:
            raise LookupError(record_path)
        problem = record_shape_problem(
            json_object(record, Path(record_path), "a run record") or {}, run_id
        )
        if problem is not None:
            raise CorruptFileError(Path(record_path), problem)
        status, status_stat = read_json_stat(Path(status_path))
        status_from(status, status_path)  # a bad status is corrupt now, as when read
        spec, spec_stat = read_json_stat(Path(spec_path))
        json_object(spec, Path(spec_path), "a run spec")
        stats = (record_stat, status_stat, spec_stat)
        entry = _entry(record, status, [_key(s) for s in stats])
        recent = time.time() - RECENT_S
        if all(s is None or s.st_mtime < recent for s in stats):
            self.entries[run_id] = entry
            self.changed = True
        return entry

    def save(self) -> None:
        """Write the index if it changed; a store that cannot take it simply goes without."""
        if not self.changed:
            return
        shared, refs = share(
            {run_id: {f: entry[f] for f in SHARED} for run_id, entry in self.entries.items()}, 1
        )
        runs = {
            run_id: {**{k: v for k, v in entry.items() if k not in SHARED}, "refs": refs[run_id]}
            for run_id, entry in self.entries.items()
        }
        text = json.dumps({"format": FORMAT, "code": self.code, "shared": shared, "runs": runs})
        try:
            atomic_write_text(self.path, text)
        except OSError:
            return
        _LOADED[self.path] = (stat_key(str(self.path)), self.code, self.entries)
        self.changed = False


def _unshared(entry: Any, table: list[Any]) -> dict[str, Any] | None:
    """An entry as :meth:`SuiteIndex.save` wrote it, with its shared values back (None: an entry
    of another shape, whose run is read from its files)."""
    try:
        values = unshare(entry["refs"], table)
    except (KeyError, TypeError, ValueError):
        return None
    if set(values) != set(SHARED):
        return None
    return {**{k: v for k, v in entry.items() if k != "refs"}, **values}


def _entry(record: Any, status: Any, keys: list[FileKey | None]) -> dict[str, Any]:
    """The index entry of a run whose files hold ``record`` and ``status``."""
    state, reason = record_verdict(record)
    top1, limit = headline(record)
    spec = record.get("spec") or {}
    return {
        "keys": keys,
        "verdict": [str(state), reason],
        "files": record.get("files") or {},
        "status": status,
        "top1": top1,
        "at_chance": run_at_chance(record),
        "limit": limit,
        "skipped": dataclasses.asdict(skipped(record)),
        "spec": {
            "protocol": spec.get("protocol"),
            "dataset": spec.get("dataset"),
            "model": (spec.get("model") or {}).get("name"),
        },
    }


def _finished(entry: Mapping[str, Any], status_path: str) -> Finished:
    """The entry's facts; its mappings are shared with the entry (and, for the values most runs
    hold alike, with other runs' facts): read, never changed."""
    state, reason = entry["verdict"]
    files, skipped, spec = entry["files"], entry["skipped"], entry["spec"]
    if not all(isinstance(value, dict) for value in (files, skipped, spec)):
        raise TypeError(f"an index entry of another shape: {status_path}")
    return Finished(
        state,
        reason,
        files,
        status_from(entry["status"], status_path),
        entry["top1"],
        bool(entry["at_chance"]),
        entry["limit"],
        skipped,
        spec,
        entry["keys"][0],
    )


def finished_runs(store: RunStore, suite: str, run_ids: Iterable[str]) -> dict[str, Finished]:
    """:class:`Finished` of every run of ``run_ids`` that has a record, through the suite's index
    (brought up to date and saved)."""
    if not store.suite_dir(suite).is_dir():
        return {}
    index = SuiteIndex(store, suite)
    found = {run_id: index.finished(run_id) for run_id in run_ids}
    index.save()
    return {run_id: facts for run_id, facts in found.items() if facts is not None}
