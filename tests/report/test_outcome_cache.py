"""The outcome cache (``<suite>/.outcomes.npz``): what runs' ``predictions.csv`` hold, kept for the
report's paired intervals and never trusted over the files. Every answer is compared with the
files read directly (:func:`read_outcomes`) and with values worked out by hand."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from omnibench.atomic import atomic_write_text
from omnibench.report.predictions import Outcomes, read_all, read_outcomes
from omnibench.store import index as store_index
from omnibench.store.run_files import OUTCOMES_FILE, PREDICTIONS_FILE

HEADER = "dataset,split,index,path,label,correct,broken\n"
# run a: video 2 right, video 0 wrong, video 1 broken (left out); run b: both splits
FILES = {
    "a": "syn,test1,2,v2.mp4,1,True,\nsyn,test1,0,v0.mp4,0,False,\nsyn,test1,1,v1.mp4,2,False,eof\n",  # noqa: E501
    "b": "syn,test1,0,v0.mp4,0,True,\nsyn,test1,2,v2.mp4,1,True,\nsyn,test2,5,w5.mp4,3,False,\n",
}


@pytest.fixture(autouse=True)
def _keep_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' files are seconds old: let the cache keep them."""
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)


def _store(folder: Path) -> dict[str, Path]:
    run_dirs = {}
    for run, rows in FILES.items():
        run_dirs[run] = folder / run
        run_dirs[run].mkdir(parents=True)
        atomic_write_text(run_dirs[run] / PREDICTIONS_FILE, HEADER + rows)
    return run_dirs


def _plain(outcomes: Outcomes | None) -> dict[tuple[str, str], list[list[int]]]:
    assert outcomes is not None
    return {
        stratum: [o.index.tolist(), o.label.tolist(), o.correct.astype(int).tolist()]
        for stratum, o in outcomes.items()
    }


def _direct(run_dirs: dict[str, Path]) -> dict[str, dict]:
    return {run: _plain(read_outcomes(path)) for run, path in run_dirs.items()}


def _cached(run_dirs: dict[str, Path]) -> dict[str, dict]:
    return {run: _plain(found) for run, found in read_all(run_dirs, run_dirs).items()}


def test_outcomes_by_hand_and_the_same_from_the_cache(tmp_path: Path) -> None:
    run_dirs = _store(tmp_path)
    by_hand = {
        "a": {("syn", "test1"): [[0, 2], [0, 1], [0, 1]]},
        "b": {("syn", "test1"): [[0, 2], [0, 1], [1, 1]], ("syn", "test2"): [[5], [3], [0]]},
    }
    assert _direct(run_dirs) == _cached(run_dirs) == by_hand
    assert (tmp_path / OUTCOMES_FILE).is_file()
    (run_dirs["a"] / PREDICTIONS_FILE).unlink()  # the cache alone would still answer for a
    assert read_all(run_dirs, run_dirs)["a"] is None is read_outcomes(run_dirs["a"])


def test_a_video_listed_twice_counts_once_as_first_listed(tmp_path: Path) -> None:
    """A hand-merged or re-appended file: video 2 listed right, then again wrong. Each resample of
    the paired intervals must draw it once (two rows would weigh it twice), with its first row."""
    run_dirs = _store(tmp_path)
    rows = FILES["a"] + "syn,test1,2,v2.mp4,1,False,\nsyn,test1,0,v0.mp4,0,True,\n"
    atomic_write_text(run_dirs["a"] / PREDICTIONS_FILE, HEADER + rows)
    once = {("syn", "test1"): [[0, 2], [0, 1], [0, 1]]}  # as without the two repeated rows
    assert _direct(run_dirs)["a"] == _cached(run_dirs)["a"] == once


def test_a_replaced_predictions_file_is_read_again(tmp_path: Path) -> None:
    run_dirs = _store(tmp_path)
    _cached(run_dirs)
    flipped = FILES["a"].replace("True", "x").replace("False", "True").replace("x", "False")
    atomic_write_text(run_dirs["a"] / PREDICTIONS_FILE, HEADER + flipped)  # same size
    assert _cached(run_dirs)["a"] == {("syn", "test1"): [[0, 2], [0, 1], [1, 0]]}
    assert _cached(run_dirs) == _direct(run_dirs)


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _foreign(path: Path) -> None:
    np.savez(path, meta=np.array('{"code": "another omnibench", "runs": {}, "refs": []}'))


def _misshapen(path: Path) -> None:
    meta = {"code": store_index.code_fingerprint(), "refs": [[0, 9]], "runs": {"a": [1, 2, 3]}}
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.array(str(meta).replace("'", '"')), index=np.zeros(1))


@pytest.mark.parametrize("damage", [_truncated, _foreign, _misshapen, "garbage"])
def test_a_damaged_or_foreign_cache_is_rebuilt_from_the_files(tmp_path: Path, damage) -> None:
    run_dirs = _store(tmp_path)
    _cached(run_dirs)
    cache = tmp_path / OUTCOMES_FILE
    if damage == "garbage":
        cache.write_bytes(b"PK\x03\x04 not a zip")
    else:
        damage(cache)
    assert _cached(run_dirs) == _direct(run_dirs)
    with zipfile.ZipFile(cache) as rebuilt:  # written whole again
        assert {"meta.npy", "correct.npy"} <= set(rebuilt.namelist())


def test_a_store_that_cannot_take_the_cache_still_answers(tmp_path: Path) -> None:
    run_dirs = _store(tmp_path)
    (tmp_path / OUTCOMES_FILE).mkdir()
    for _ in range(2):
        assert _cached(run_dirs) == _direct(run_dirs)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
