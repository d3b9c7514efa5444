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
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omnibench.atomic import atomic_write_text
from omnibench.errors import CorruptFileError
from omnibench.store import index as store_index
from omnibench.store.acceptance import record_shape_problem
from omnibench.store.run_files import RECORD_FILE, TABULATED_FILE, json_object, read_json_stat
from omnibench.store.run_store import RunStore

Tabulate = Callable[[dict[str, Any]], dict[str, Any]]


def _load(path: Path, code: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or corrupt: rebuilt
        return {}
    runs = data.get("runs") if isinstance(data, dict) and data.get("code") == code else None
    return runs if isinstance(runs, dict) else {}


def tabulated_records(
    store: RunStore, suite: str, run_ids: Sequence[str], tabulate: Tabulate
) -> list[dict[str, Any]]:
    """``tabulate(record)`` of each run of ``run_ids`` that has a record, in order (served from
    the suite's ``.tabulated.json`` where it holds that very file; see the module docstring)."""
    folder = store.suite_dir(suite)
    path, code = folder / TABULATED_FILE, store_index.index_code()
    kept, changed, out = _load(path, code), False, []
    for run_id in run_ids:
        record_path = f"{store.run_dir(suite, run_id)}/{RECORD_FILE}"
        entry, key = kept.get(run_id), store_index.stat_key(record_path)
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
            atomic_write_text(path, json.dumps({"code": code, "runs": kept}))
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
