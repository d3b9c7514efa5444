"""The Δ cache (``<suite>/.deltas.json``): a column's paired intervals are served from it only for
the very inputs they were drawn from. Every served answer is compared with the one computed without
the cache, after each input the numbers depend on has been changed in turn."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnibench.report import paired, stats
from omnibench.report.published import Stat
from omnibench.store import index as store_index
from omnibench.store.run_files import DELTAS_FILE, PREDICTIONS_FILE
from tests.report.test_intervals import (
    HALF,
    HMDB,
    QUARTER,
    RATIO,
    SWAPPED,
    SWAPPED_RATIOS,
    _done,
    _run_dirs,
)

SETTINGS = stats.BootstrapSettings(resamples=200)
Deltas = tuple[dict[Any, dict[Any, Stat]], list[str]]


@pytest.fixture(autouse=True)
def _keep_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' files are seconds old: let the cache keep them."""
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)


def _store(tmp_path: Path) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Ratio 1/2's r1 (seeds 1, right on all 6 videos), r2 (seeds 2, none) against the reference
    1/4's q1 (seeds 2, all), q2 (seeds 1, none), in one suite folder."""
    folder = tmp_path / "suite"
    folder.mkdir()
    return _done(SWAPPED_RATIOS, seed=[1, 2, 2, 1]), _run_dirs(folder, SWAPPED)


def _deltas(
    done: pd.DataFrame, dirs: dict[str, Path], settings: stats.BootstrapSettings = SETTINGS
) -> Deltas:
    return paired.reference_deltas(done, dirs, [RATIO], ["dataset"], [HMDB], QUARTER, settings)


def _fresh(done: pd.DataFrame, dirs: dict[str, Path], **kw: Any) -> Deltas:
    """The Δs computed without the cache (it is removed first, and again after)."""
    cache = next(iter(dirs.values())).parent / DELTAS_FILE
    cache.unlink(missing_ok=True)
    try:
        return _deltas(done, dirs, **kw)
    finally:
        cache.unlink(missing_ok=True)


def _no_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("resampled again")

    monkeypatch.setattr(stats, "resampled_means", refuse)


def test_kept_deltas_are_served_without_drawing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paired by seeds, (r1, q2) and (r2, q1) differ on all 6 videos each way: Δ = 50 − 50 = 0 over
    2 runs, McNemar p = 2 · 2⁻⁶ = 1/32. The second report reads the same Stat from the cache."""
    done, dirs = _store(tmp_path)
    first = _deltas(done, dirs)
    stat = first[0][HALF][HMDB]
    assert (stat.mean, stat.n, stat.p_value) == (0.0, 2, pytest.approx(1 / 32))
    assert (dirs["r1"].parent / DELTAS_FILE).is_file()
    _no_draws(monkeypatch)
    assert _deltas(done, dirs) == first


def _flip_predictions(done: pd.DataFrame, dirs: dict[str, Path]) -> tuple[pd.DataFrame, dict]:
    """r1 now wrong on every video (its file rewritten, with the modification time it had)."""
    path = dirs["r1"] / PREDICTIONS_FILE
    stat = path.stat()
    path.write_text(path.read_text().replace("True", "False"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same modification time
    return done, dirs


CHANGES: dict[str, Callable[[pd.DataFrame, dict[str, Path]], tuple[pd.DataFrame, dict]]] = {
    "predictions.csv": _flip_predictions,
    "seeds (pairing)": lambda done, dirs: (done.assign(seed=[1, 2, 1, 2]), dirs),
    "a row's runs": lambda done, dirs: (done[done.run_id != "r2"], dirs),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_input_is_never_served_from_the_cache(tmp_path: Path, change: str) -> None:
    """After each change the Δ is the one computed without the cache, and not the kept one: r1
    wrong everywhere gives Δ = 0 − 50 = −50 points; seeds paired in list order, p = 1; without r2
    the row has one run (n = 1)."""
    done, dirs = _store(tmp_path)
    kept = _deltas(done, dirs)
    done, dirs = CHANGES[change](done, dirs)
    served = _deltas(done, dirs)
    assert served == _fresh(done, dirs)
    assert served != kept
    expected = {"predictions.csv": "mean", "seeds (pairing)": "p_value", "a row's runs": "n"}
    field = expected[change]
    values = {"mean": -50.0, "p_value": 1.0, "n": 1}
    assert getattr(served[0][HALF][HMDB], field) == values[field]


def test_the_same_runs_against_another_reference_row_draw_again(tmp_path: Path) -> None:
    """The Δs kept against the 1/4 row are no answer once the 1/2 row is the reference: the 1/4 row
    now has the Δ (0 − 0 points on average, each run of 1/4 paired with the 1/2 run of its seeds
    and 6 videos apart: McNemar's p = 2 / 2^6 = 1/32) and the 1/2 row none."""
    done, dirs = _store(tmp_path)
    _deltas(done, dirs)
    served = paired.reference_deltas(done, dirs, [RATIO], ["dataset"], [HMDB], HALF, SETTINGS)
    assert set(served[0]) == {QUARTER}
    (served_stat,) = served[0][QUARTER].values()
    assert (served_stat.mean, served_stat.p_value) == (0.0, pytest.approx(1 / 32))
    (dirs["r1"].parent / DELTAS_FILE).unlink()
    assert served == paired.reference_deltas(
        done, dirs, [RATIO], ["dataset"], [HMDB], HALF, SETTINGS
    )


def test_other_bootstrap_settings_or_code_draw_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another level gives another interval (the one computed without the cache); other omnibench
    code resamples again even when nothing else changed."""
    done, dirs = _store(tmp_path)
    kept = _deltas(done, dirs)
    narrow = stats.BootstrapSettings(resamples=200, level=0.5)
    served = _deltas(done, dirs, settings=narrow)
    assert served == _fresh(done, dirs, settings=narrow)
    _deltas(done, dirs)  # kept again for SETTINGS
    assert served[0][HALF][HMDB].high != kept[0][HALF][HMDB].high
    drawn: list[int] = []
    real = stats.resampled_means

    def counted(*args: Any, **kwargs: Any) -> np.ndarray:
        drawn.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(stats, "resampled_means", counted)
    assert _deltas(done, dirs) == kept and not drawn
    monkeypatch.setattr(store_index, "code_fingerprint", lambda: "other code")
    assert _deltas(done, dirs) == kept and drawn


def test_recent_files_are_not_kept_and_a_damaged_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Predictions written in the last RECENT_S seconds: computed, nothing kept. A corrupt file, or
    an entry that is misshapen, holds another row, a text for a number or a number for the
    problem: drawn again, and the file rewritten."""
    done, dirs = _store(tmp_path)
    cache = dirs["r1"].parent / DELTAS_FILE
    monkeypatch.setattr(store_index, "RECENT_S", 3600.0)
    expected = _deltas(done, dirs)
    assert not cache.exists()
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)
    cache.write_text("{not json")
    assert _deltas(done, dirs) == expected
    kept = json.loads(cache.read_text())["columns"]
    (digest, entry), row = next(iter(kept.items())), repr(HALF)
    for damaged in (
        {"stats": 3},
        {"stats": {"('another row',)": entry["stats"][row]}, "problem": None},
        {"stats": {row: ["50.0", *entry["stats"][row][1:]]}, "problem": None},
        {"stats": entry["stats"], "problem": 7},
    ):
        cache.write_text(json.dumps({"columns": {digest: damaged}}))
        assert _deltas(done, dirs) == expected
        assert json.loads(cache.read_text())["columns"] == kept
