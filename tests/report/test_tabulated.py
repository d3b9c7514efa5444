"""The records reports hold (``<suite>/.tabulated.json``): a cache of the done runs' records,
served only while it holds the very ``record.json`` in the run's folder, for the code that made it.
Every test compares what is served with what the files say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnibench.config.spec import RunSpec
from omnibench.errors import CorruptFileError
from omnibench.report.records import _tabulated
from omnibench.report.tabulated import tabulated_records
from omnibench.store import index as store_index
from omnibench.store.run_files import RECORD_FILE, TABULATED_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from tests.report_fixtures import make_record

SUITE = "tab"


@pytest.fixture(autouse=True)
def _keep_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' files are seconds old: let the cache keep them (the age rule has its own test)."""
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)


def _finished(store: RunStore, seeds: range) -> list[str]:
    ids = []
    for seed in seeds:
        spec = RunSpec.from_dict({"protocol": "supervised", "dataset": "synthetic", "seed": seed})
        record = make_record(spec, SUITE, {"top1": 50.0 + seed})
        record["train"] = {"epochs": 2, "history": [{"epoch": 1, "loss": 1.0}]}
        atomic_write_json(store.prepare(SUITE, spec) / RECORD_FILE, record)
        ids.append(spec.run_id())
    return ids


def _served(store: RunStore, ids: list[str]) -> list[dict[str, Any]]:
    return tabulated_records(store, SUITE, ids, _tabulated)


def _truth(store: RunStore, ids: list[str]) -> list[dict[str, Any]]:
    records = (store.read_record(SUITE, run_id) for run_id in ids)
    return [_tabulated(record) for record in records if record is not None]


def _cache(store: RunStore) -> dict[str, Any]:
    return json.loads((store.suite_dir(SUITE) / TABULATED_FILE).read_text())


def _mark(store: RunStore, run_id: str) -> None:
    """Change what the cache holds for ``run_id`` (not the run's file): served, it shows."""
    cache = _cache(store)
    cache["runs"][run_id]["record"]["metrics"]["top1"] = -1.0
    (store.suite_dir(SUITE) / TABULATED_FILE).write_text(json.dumps(cache))


def test_served_records_are_the_files_without_what_no_table_shows(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(3))
    first = _served(store, [*ids, "0123456789ab"])  # a run without a record is left out
    assert first == _truth(store, ids)
    assert [r["metrics"]["top1"] for r in first] == [50.0, 51.0, 52.0]
    assert all("history" not in r["train"] and r["train"]["epochs"] == 2 for r in first)
    assert set(_cache(store)["runs"]) == set(ids)
    _mark(store, ids[1])
    assert [r["metrics"]["top1"] for r in _served(store, ids)] == [50.0, -1.0, 52.0]  # kept


def test_a_rewritten_record_is_read_again(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(2))
    _served(store, ids)
    _mark(store, ids[0])
    path = store.run_dir(SUITE, ids[0]) / RECORD_FILE
    record = json.loads(path.read_text())
    record["metrics"]["top1"] = 99.0
    atomic_write_json(path, record)  # a new file (every write in the store replaces one)
    assert [r["metrics"]["top1"] for r in _served(store, ids)] == [99.0, 51.0]
    assert _served(store, ids) == _truth(store, ids)


def test_a_record_that_is_not_one_is_an_error_as_when_read(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(1))
    _served(store, ids)
    (store.run_dir(SUITE, ids[0]) / RECORD_FILE).write_text('{"run_id": 3}')
    with pytest.raises(CorruptFileError, match="no 'run_id'"):
        _served(store, ids)


@pytest.mark.parametrize(
    "damage", ["{not json", json.dumps({"code": "another-omnibench", "runs": {}}), "[]"]
)
def test_a_corrupt_or_foreign_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(2))
    _served(store, ids)
    cache = _cache(store)
    if damage.startswith('{"code'):  # another code's cache holding other numbers: not served
        cache["code"] = "another-omnibench"
        cache["runs"][ids[0]]["record"]["metrics"]["top1"] = -1.0
        damage = json.dumps(cache)
    (store.suite_dir(SUITE) / TABULATED_FILE).write_text(damage)
    assert _served(store, ids) == _truth(store, ids)
    assert _cache(store)["code"] == store_index.index_code()


def test_records_written_a_moment_ago_are_served_but_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_index, "RECENT_S", 3600.0)
    store = RunStore(tmp_path)
    ids = _finished(store, range(2))
    assert _served(store, ids) == _truth(store, ids)
    assert not (store.suite_dir(SUITE) / TABULATED_FILE).exists()


def test_a_store_that_cannot_take_the_cache_goes_without(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(2))
    (store.suite_dir(SUITE) / TABULATED_FILE).mkdir()  # the write fails (as on a read-only store)
    assert _served(store, ids) == _truth(store, ids)
    assert _served(store, ids) == _truth(store, ids)


def test_sections_runs_hold_alike_are_written_once_and_served_as_one(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(3))
    _served(store, ids)
    cache = _cache(store)
    model = {"name": "omniclip", "backbone": "ViT-B-16", "pretrained": "openai", "options": {}}
    assert model in cache["shared"] and cache["shared"].count(model) == 1
    entry = cache["runs"][ids[0]]
    assert "model" not in entry["record"]["spec"] and "spec.model" in entry["refs"]
    assert "metrics" in entry["record"]  # each run's own: kept in its entry
    served = _served(store, ids)  # from the cache
    assert served == _truth(store, ids)
    assert served[0]["spec"]["model"] is served[2]["spec"]["model"]
    assert served[0]["metrics"] is not served[2]["metrics"]


@pytest.mark.parametrize("refs", [{"spec.model": 99}, {"spec.model": "x"}, None, {"nope.x": 0}])
def test_an_entry_with_refs_of_another_shape_is_read_again(tmp_path: Path, refs: object) -> None:
    store = RunStore(tmp_path)
    ids = _finished(store, range(2))
    _served(store, ids)
    _mark(store, ids[0])
    cache = _cache(store)
    cache["runs"][ids[0]]["refs"] = refs
    (store.suite_dir(SUITE) / TABULATED_FILE).write_text(json.dumps(cache))
    assert _served(store, ids) == _truth(store, ids)
