"""The store's index (``<suite>/.index.json``): a cache of what finished runs' files say, never
trusted over them. Every test compares the index's answer with the files' own
(:func:`omnibench.store.survey.judged_state`, which reads them)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from omnibench.config.spec import RunSpec
from omnibench.models.declaration import DECLARED
from omnibench.store import index as store_index
from omnibench.store.acceptance import sha256_file
from omnibench.store.revisions import NO_RECORD
from omnibench.store.run_files import INDEX_FILE, LOCK_FILE, RECORD_FILE, SPEC_FILE, STATUS_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.store.survey import judged_state, survey
from tests.report_fixtures import make_record

SUITE = "idx"


@pytest.fixture(autouse=True)
def _keep_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' files are seconds old: let the index keep them (the age rule has its own test)."""
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)
    store_index._LOADED.clear()


def _spec(seed: int) -> RunSpec:
    return RunSpec.from_dict({"protocol": "supervised", "dataset": "synthetic", "seed": seed})


def _finish(store: RunStore, spec: RunSpec, top1: float = 50.0, **record: object) -> Path:
    """A run with a record and a done status (as a job leaves it)."""
    run_dir = store.prepare(SUITE, spec)
    store.write_status(SUITE, spec.run_id(), "running", job_id="7_1")
    atomic_write_json(run_dir / RECORD_FILE, {**make_record(spec, SUITE, {"top1": top1}), **record})
    store.write_status(SUITE, spec.run_id(), "done")
    return run_dir


def _states(store: RunStore, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    judged = survey(store, SUITE, run_ids)
    return {run_id: (state, reason) for run_id, (state, _, reason, _) in judged.items()}


def _truth(store: RunStore, run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    return {
        r: (state, reason) for r in run_ids for state, _, reason in [judged_state(store, SUITE, r)]
    }


def _index(store: RunStore) -> dict:
    return json.loads((store.suite_dir(SUITE) / INDEX_FILE).read_text())


def test_every_state_matches_the_files_and_finished_runs_are_kept(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    specs = [_spec(seed) for seed in range(6)]
    _finish(store, specs[0], top1=81.25)
    _finish(store, specs[1], metrics={"top1": float("nan")})  # unusable record: failed
    store.prepare(SUITE, specs[2])  # new
    store.prepare(SUITE, specs[3])
    store.write_status(SUITE, specs[3].run_id(), "pending", job_id="9_0")
    store.prepare(SUITE, specs[4])
    store.write_status(SUITE, specs[4].run_id(), "failed", error="boom")
    ids = [s.run_id() for s in specs]  # specs[5]: never prepared
    first = _states(store, ids)
    assert first == _truth(store, ids)
    assert [first[i][0] for i in ids] == ["done", "failed", "new", "pending", "failed", "new"]
    assert set(_index(store)["runs"]) == {ids[0], ids[1]}  # only runs with a record are kept
    shared = _index(store)["shared"]  # what both records hold alike is written once
    (spec,) = {_index(store)["runs"][i]["refs"]["spec"] for i in ids[:2]}
    assert shared[spec] == {"protocol": "supervised", "dataset": "synthetic", "model": "omniclip"}
    judged = survey(store, SUITE, ids)  # now from the index
    assert {r: (s, why) for r, (s, _, why, _) in judged.items()} == first
    facts = judged[ids[0]][3]
    assert facts is not None and facts.top1 == 81.25 and judged[ids[0]][1].job_id == "7_1"


def test_a_replaced_or_removed_record_is_read_again(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    specs = [_spec(0), _spec(1)]
    dirs = [_finish(store, spec) for spec in specs]
    ids = [s.run_id() for s in specs]
    assert _states(store, ids) == {ids[0]: ("done", None), ids[1]: ("done", None)}
    record = json.loads((dirs[0] / RECORD_FILE).read_text())
    record["metrics"]["top1"] = float("inf")  # rewritten in place, same size or not
    atomic_write_json(dirs[0] / RECORD_FILE, record)
    (dirs[1] / RECORD_FILE).unlink()
    store.write_status(SUITE, ids[1], "failed", error="rerun")
    assert _states(store, ids) == _truth(store, ids)
    assert _states(store, ids)[ids[0]][0] == "failed"
    assert _states(store, ids)[ids[1]] == ("failed", None)
    assert ids[1] not in _index(store)["runs"]


def test_a_changed_annotation_file_makes_an_indexed_run_stale(tmp_path: Path) -> None:
    store, listing = RunStore(tmp_path), tmp_path / "test.txt"
    listing.write_text("a.mp4 0\n")
    digest = sha256_file(listing)
    spec = _spec(0)
    _finish(store, spec, files={str(listing): digest})
    assert _states(store, [spec.run_id()])[spec.run_id()] == ("done", None)
    listing.write_text("a.mp4 1\n")
    state, reason = _states(store, [spec.run_id()])[spec.run_id()]
    assert state == "stale" and "test.txt" in reason
    assert _truth(store, [spec.run_id()])[spec.run_id()] == (state, reason)


@pytest.mark.parametrize(
    "damage",
    ["{not json", json.dumps({"format": 1, "code": "another-omnibench", "runs": {}}), "[]"],
)
def test_a_corrupt_or_foreign_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    store = RunStore(tmp_path)
    spec = _spec(0)
    _finish(store, spec, top1=12.5)
    ids = [spec.run_id()]
    survey(store, SUITE, ids)
    path = store.suite_dir(SUITE) / INDEX_FILE
    path.write_text(damage)
    store_index._LOADED.clear()
    assert _states(store, ids) == _truth(store, ids) == {ids[0]: ("done", None)}
    assert _index(store)["code"] == store_index.index_code()


@pytest.mark.parametrize(
    "entry",
    [
        5,
        [],
        {"keys": None},
        {"verdict": "done"},
        {"files": 9, "skipped": 0, "spec": 0},  # an entry of index format 4
        {"refs": {"files": 0, "skipped": 0}},  # a shared field missing
        {"refs": {"files": -1, "skipped": 0, "spec": 0}},  # not a number into the table
    ],
)
def test_an_entry_of_another_shape_is_read_again(tmp_path: Path, entry: object) -> None:
    store = RunStore(tmp_path)
    spec = _spec(0)
    _finish(store, spec, top1=12.5)
    ids = [spec.run_id()]
    code = store_index.index_code()
    index = {"format": store_index.FORMAT, "code": code, "shared": [], "runs": {ids[0]: entry}}
    (store.suite_dir(SUITE) / INDEX_FILE).write_text(json.dumps(index))
    assert _states(store, ids) == _truth(store, ids) == {ids[0]: ("done", None)}
    assert store_index.finished_runs(store, SUITE, ids)[ids[0]].top1 == 12.5


def test_an_index_entry_that_lies_is_not_believed_once_the_files_differ(tmp_path: Path) -> None:
    """The index says done, but the record it was read from has been replaced by a failing one."""
    store = RunStore(tmp_path)
    spec = _spec(0)
    run_dir = _finish(store, spec)
    survey(store, SUITE, [spec.run_id()])
    record = json.loads((run_dir / RECORD_FILE).read_text())
    record["evaluations"][0]["videos"] = 0
    atomic_write_json(run_dir / RECORD_FILE, record)
    store_index._LOADED.clear()
    assert _states(store, [spec.run_id()])[spec.run_id()][0] == "failed"


def test_files_written_a_moment_ago_are_read_but_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_index, "RECENT_S", 3600.0)
    store = RunStore(tmp_path)
    spec = _spec(0)
    _finish(store, spec)
    assert _states(store, [spec.run_id()])[spec.run_id()] == ("done", None)
    assert not (store.suite_dir(SUITE) / INDEX_FILE).exists()


def test_a_store_that_cannot_take_the_index_still_answers(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    spec = _spec(0)
    _finish(store, spec)
    (store.suite_dir(SUITE) / INDEX_FILE).mkdir()  # the write fails (as on a read-only store)
    for _ in range(2):
        assert _states(store, [spec.run_id()]) == {spec.run_id(): ("done", None)}
    assert not [p for p in os.listdir(store.suite_dir(SUITE)) if p.endswith(".tmp")]


def _damage_record_in_place(run_dir: Path) -> None:
    path = run_dir / RECORD_FILE
    text = path.read_text()
    with open(path, "r+", encoding="utf-8") as handle:  # same inode: a truncated write
        handle.truncate(len(text) // 2)


@pytest.mark.parametrize(
    ("damage", "corrupt_file"),
    [
        (_damage_record_in_place, RECORD_FILE),
        (lambda d: (d / RECORD_FILE).write_text("[1, 2]"), RECORD_FILE),
        (lambda d: atomic_write_json(d / RECORD_FILE, {"run_id": "x", "metrics": {}}), RECORD_FILE),
        (lambda d: (d / STATUS_FILE).write_text('{"state": "finished"}'), STATUS_FILE),
        (lambda d: (d / SPEC_FILE).write_text("{trunc"), SPEC_FILE),
        (lambda d: (d / LOCK_FILE).write_text("{trunc"), LOCK_FILE),
    ],
)
def test_an_indexed_run_whose_file_turns_corrupt_is_corrupt_never_done(
    tmp_path: Path, damage: Callable[[Path], object], corrupt_file: str
) -> None:
    """A file of a run the index holds as done is damaged: the run is ``corrupt``, naming that
    file, and the index keeps no entry for it until it is whole again."""
    store = RunStore(tmp_path)
    spec = _spec(0)
    run_dir = _finish(store, spec)
    ids = [spec.run_id()]
    assert _states(store, ids) == {ids[0]: ("done", None)} and ids[0] in _index(store)["runs"]
    damage(run_dir)
    state, reason = _states(store, ids)[ids[0]]
    assert (state, reason) == _truth(store, ids)[ids[0]]
    assert state == "corrupt" and corrupt_file in reason
    assert ids[0] not in _index(store)["runs"]
    assert ids[0] not in store_index.finished_runs(store, SUITE, ids)


def test_a_record_of_another_revision_is_stale_through_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record's verdict is kept in the index, but only for today's revisions: one more model
    revision makes the indexed run ``stale`` with the files' own reason."""
    store = RunStore(tmp_path)
    spec = _spec(0)
    _finish(store, spec)
    older = _spec(1)
    record = make_record(older, SUITE, {"top1": 40.0})
    del record["computed_by"]
    atomic_write_json(store.prepare(SUITE, older) / RECORD_FILE, record)
    ids = [spec.run_id(), older.run_id()]
    assert _states(store, ids) == _truth(store, ids)
    assert _states(store, ids) == {ids[0]: ("done", None), ids[1]: ("stale", NO_RECORD)}
    name = spec.model.name
    declaration = DECLARED.get(name)
    monkeypatch.setitem(
        DECLARED._items,
        name,
        dataclasses.replace(declaration, revisions=(*declaration.revisions, "a new head")),
    )
    state, reason = _states(store, ids)[ids[0]]
    assert (state, reason) == _truth(store, ids)[ids[0]]
    assert state == "stale" and "a new head" in reason
