"""The expanded suite kept beside its runs (``<suite>/.plan.pickle``): served only while the suite
file, the fragments it includes, the settings, the file's path and omnibench's code are what it was
expanded from; anything else, or a damaged file, is expanded again."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from omnibench.store.run_files import PLAN_FILE
from omnibench.store.run_store import RunStore
from omnibench.suite import load as suite_load
from omnibench.suite import plan_cache
from omnibench.suite.load import Suite, load_suite

FRAGMENT = """\
table: {layout: grid, columns: [dataset], metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {name: omniclip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
"""
SUITE = """\
name: cached
description: seeds over two ratios
include: _base.yaml
table: {paper_table: null, title: Cached, rows: [model.options.ratio]}
base:
  optim: {epochs: 2}
seeds: [0, 1, 2]
grid:
  model.options.ratio: [0.25, 0.5]
"""


@pytest.fixture()
def suite_file(tmp_path: Path) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "_base.yaml").write_text(FRAGMENT)
    (folder / "cached.yaml").write_text(SUITE)
    return folder / "cached.yaml"


@pytest.fixture()
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "results")
    store.suite_dir("cached").mkdir(parents=True)  # the suite has run before
    return store


@pytest.fixture()
def expansions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The suite files expanded (not served from the cache) from here on."""
    done: list[Path] = []
    expand = suite_load._expanded

    def counted(path: Path, *args: object) -> Suite:
        done.append(path)
        return expand(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(suite_load, "_expanded", counted)
    return done


def _same(a: Suite, b: Suite) -> None:
    assert a == b
    assert [s.run_id() for s in a.specs] == [s.run_id() for s in b.specs]
    assert [s.canonical_json() for s in a.specs] == [s.canonical_json() for s in b.specs]
    assert [s.plain() for s in a.specs] == [s.to_dict() for s in b.specs]
    assert a.origins == b.origins
    assert a.where(a.specs[3], "seed") == b.where(b.specs[3], "seed")


def test_a_loaded_suite_is_served_from_the_cache_as_it_was_expanded(
    suite_file: Path, store: RunStore, expansions: list[Path]
) -> None:
    first = load_suite(suite_file, None, store)
    assert (store.suite_dir("cached") / PLAN_FILE).is_file()
    again = load_suite(suite_file, None, store)
    assert len(expansions) == 1 and len(again.specs) == 6
    _same(again, first)
    _same(again, load_suite(suite_file))  # and as a suite expanded without a store is


def _edit_suite(suite_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite_file.write_text(SUITE.replace("epochs: 2", "epochs: 3"))


def _edit_fragment(suite_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fragment = suite_file.parent / "_base.yaml"
    fragment.write_text(FRAGMENT.replace("frames: 4", "frames: 8"))


def _upgrade_code(suite_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_cache, "code_fingerprint", lambda: "another omnibench")


@pytest.mark.parametrize("change", [_edit_suite, _edit_fragment, _upgrade_code])
def test_a_changed_source_or_code_is_expanded_again(
    suite_file: Path,
    store: RunStore,
    expansions: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path, pytest.MonkeyPatch], None],
) -> None:
    load_suite(suite_file, None, store)
    change(suite_file, monkeypatch)
    changed = load_suite(suite_file, None, store)
    assert len(expansions) == 2
    _same(changed, load_suite(suite_file))  # (a third expansion: no store, no cache)
    _same(load_suite(suite_file, None, store), changed)  # the cache now holds the change
    assert len(expansions) == 3


def test_other_settings_are_expanded_with_them(
    suite_file: Path, store: RunStore, expansions: list[Path]
) -> None:
    plain = load_suite(suite_file, None, store)
    settings = {"optim.epochs": (5, "--set optim.epochs=5")}
    chosen = load_suite(suite_file, settings, store)  # type: ignore[arg-type]
    assert {s.optim.epochs for s in chosen.specs} == {5} != {s.optim.epochs for s in plain.specs}
    assert chosen.settings == {"optim.epochs": 5}
    assert load_suite(suite_file, None, store) == plain
    assert len(expansions) == 3


@pytest.mark.parametrize("elsewhere", ["copied", "relative"])
def test_the_same_suite_from_another_path_is_expanded_there(
    suite_file: Path,
    store: RunStore,
    expansions: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    elsewhere: str,
) -> None:
    load_suite(suite_file, None, store)
    if elsewhere == "copied":
        moved = shutil.copytree(suite_file.parent, tmp_path / "elsewhere") / suite_file.name
    else:  # the same file, named from its folder
        monkeypatch.chdir(suite_file.parent)
        moved = Path(suite_file.name)
    suite = load_suite(moved, None, store)
    assert len(expansions) == 2
    assert suite.path == moved and suite.where(suite.specs[0], "seed").startswith(str(moved))


class _Planted:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("touch planted",)


@pytest.mark.parametrize(
    "damage",
    [
        b"not a pickle",
        b"",
        pickle.dumps({"key": "another", "sources": [], "suite": None}),
        pickle.dumps([_Planted()]),
    ],
    ids=["garbage", "empty", "foreign", "planted"],
)
def test_a_damaged_or_planted_cache_is_expanded_again_and_rewritten(
    suite_file: Path,
    store: RunStore,
    expansions: list[Path],
    damage: bytes,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    first = load_suite(suite_file, None, store)
    cache = store.suite_dir("cached") / PLAN_FILE
    cache.write_bytes(damage)
    _same(load_suite(suite_file, None, store), first)
    assert not (tmp_path / "planted").exists()  # nothing in the file ran
    _same(load_suite(suite_file, None, store), first)
    assert len(expansions) == 2  # rewritten by the second load, served to the third


def test_a_cache_that_holds_no_suite_is_expanded_again(
    suite_file: Path, store: RunStore, expansions: list[Path]
) -> None:
    first = load_suite(suite_file, None, store)
    cache = store.suite_dir("cached") / PLAN_FILE
    payload = plan_cache._Unpickler(cache.read_bytes(), Suite).load()
    cache.write_bytes(pickle.dumps({**payload, "suite": "not a suite"}))
    _same(load_suite(suite_file, None, store), first)
    assert len(expansions) == 2


def test_a_truncated_cache_is_expanded_again(
    suite_file: Path, store: RunStore, expansions: list[Path]
) -> None:
    first = load_suite(suite_file, None, store)
    cache = store.suite_dir("cached") / PLAN_FILE
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    _same(load_suite(suite_file, None, store), first)
    assert len(expansions) == 2


def test_a_suite_that_never_ran_leaves_no_folder_behind(suite_file: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "fresh")
    load_suite(suite_file, None, store)
    assert not store.suite_dir("cached").exists()
