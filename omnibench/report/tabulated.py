"""The records of a suite's done runs as reports hold them, kept so that a report over thousands of
runs does not read and check thousands of ``record.json`` files every time.

``<results>/<suite>/.tabulated.json`` holds, per run, its record without what no table shows
(:func:`omnibench.report.records.tabulated`) and the key of the ``record.json`` it was read from
(inode, size, modification time). A kept record is served only while that very file is the run's
``record.json`` and only to the omnibench code that kept it (the store index's
:func:`~omnibench.store.index.index_code`); anything else is read from the run's folder
again (checked as :meth:`~omnibench.store.run_store.RunStore.read_record` checks it), and a file
changed in the last ``RECENT_S`` seconds is read but not kept. A missing, corrupt or foreign file
is rebuilt; one that cannot be written is not kept. The run folders stay the source of truth.
A section that several records hold alike (the spec's model, data and optim, the versions, the
annotation files...) is written once and, read back, is the very same object in each record (so
:func:`~omnibench.report.pooling.dotted` flattens it once): records are read, never changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_text
from omnibench.errors import CorruptFileError
from omnibench.store import index as store_index
from omnibench.store.acceptance import record_shape_problem
from omnibench.store.index import FileKey
from omnibench.store.run_files import RECORD_FILE, TABULATED_FILE, json_object, read_json_stat
from omnibench.store.run_store import RunStore, checked_name
from omnibench.store.shared_sections import share, unshare

Tabulate = Callable[[dict[str, Any]], dict[str, Any]]


def _load(path: Path, code: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or corrupt: rebuilt
        return {}
    valid = isinstance(data, dict) and data.get("code") == code
    runs, shared = (data.get("runs"), data.get("shared")) if valid else (None, None)
    if not isinstance(runs, dict) or not isinstance(shared, list):
        return {}
    return {run_id: entry for run_id, entry in runs.items() if _unshared(entry, shared)}


Place = tuple[str, ...]  # a record's section: (key,) or ("spec", key)


def _places(record: dict[str, Any]) -> list[Place]:
    """The record's sections that runs may have alike: its mappings and its spec's."""
    places: list[Place] = [(k,) for k, v in record.items() if isinstance(v, dict) and k != "spec"]
    spec = record.get("spec")
    if isinstance(spec, dict):
        places += [("spec", k) for k, v in spec.items() if isinstance(v, dict)]
    return places


def _at(record: dict[str, Any], place: Place) -> Any:
    return record[place[0]] if len(place) == 1 else record[place[0]][place[1]]


def _shared(kept: dict[str, Any]) -> dict[str, Any]:
    """The file's ``shared`` sections and ``runs``: a section that several records hold alike is
    written once, each entry naming it in its ``refs`` (``"spec.model"``: its number)."""
    sections = {
        run_id: {".".join(place): _at(e["record"], place) for place in _places(e["record"])}
        for run_id, e in kept.items()
    }
    table, refs = share(sections)
    runs = {
        run_id: {**entry, "record": _without(entry["record"], refs[run_id]), "refs": refs[run_id]}
        for run_id, entry in kept.items()
    }
    return {"shared": table, "runs": runs}


def _without(record: dict[str, Any], refs: Mapping[str, int]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in refs}
    if isinstance(out.get("spec"), dict):
        out["spec"] = {k: v for k, v in out["spec"].items() if f"spec.{k}" not in refs}
    return out


def _unshared(entry: Any, shared: list[Any]) -> bool:
    """Put an entry's shared sections back in its record (the same objects for every record that
    holds them alike); False: an entry of another shape (its run is read again)."""
    try:
        record = entry["record"]
        for place, value in unshare(entry["refs"], shared).items():
            *parent, key = place.split(".")
            holder = record[parent[0]] if parent else record
            holder[key] = value
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return isinstance(record, dict)


def tabulated_records(
    store: RunStore,
    suite: str,
    run_ids: Sequence[str],
    tabulate: Tabulate,
    keys: Mapping[str, FileKey | None] | None = None,
) -> list[dict[str, Any]]:
    """``tabulate(record)`` of each run of ``run_ids`` that has a record, in order (served from
    the suite's ``.tabulated.json`` where it holds that very file; see the module docstring).
    ``keys``: the key of each run's ``record.json`` as the caller judged it (the store index's
    :attr:`~omnibench.store.index.Finished.record_key`), else the file is looked at now."""
    folder = store.suite_dir(suite)
    path, code = folder / TABULATED_FILE, store_index.index_code()
    kept, changed, out = _load(path, code), False, []
    for run_id in run_ids:
        record_path = f"{folder}/{checked_name(run_id, 'run id')}/{RECORD_FILE}"
        entry, key = kept.get(run_id), (keys or {}).get(run_id) or store_index.stat_key(record_path)
        if key is not None and isinstance(entry, dict) and entry.get("key") == key:
            out.append(tabulate(entry["record"]))  # (class names shared again)
            continue
        record, stat = _read(record_path, run_id)
        if record is None:
            continue
        record = tabulate(record)
        out.append(record)
        if stat.st_mtime < time.time() - store_index.RECENT_S:
            kept[run_id] = {"key": [stat.st_ino, stat.st_size, stat.st_mtime_ns], "record": record}
            changed = True
    if changed:
        try:
            atomic_write_text(path, json.dumps({"code": code, **_shared(kept)}))
        except OSError:  # a store that cannot take it goes without
            pass
    return out


def _read(path: str, run_id: str) -> tuple[dict[str, Any] | None, os.stat_result]:
    """The record in ``path`` and the stat of that file; CorruptFileError as ``read_record``."""
    data, stat = read_json_stat(Path(path))
    record = json_object(data, Path(path), "a run record")
    if record is None or stat is None:
        return None, os.stat_result((0,) * 10)
    problem = record_shape_problem(record, run_id)
    if problem is not None:
        raise CorruptFileError(Path(path), problem)
    return record, stat
