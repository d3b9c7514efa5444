"""The synthetic motion benchmark: determinism, the twin-class property, atomic generation, CLI."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from omnibench.cli import main
from omnibench.data import (
    SynthConfig,
    ensure_synthetic,
    generate_synthetic,
    get_dataset,
    read_frames,
)
from omnibench.data.synth import DEFAULT_CLASSES, MOTIONS, split_of
from omnibench.data.synth_frames import draw_scene, render
from omnibench.errors import OmniBenchError

TINY = SynthConfig(classes=DEFAULT_CLASSES[:4], videos_per_class=6, frames=8, size=32)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_videos(tmp_path: Path) -> None:
    a, b = generate_synthetic(tmp_path / "a", TINY), generate_synthetic(tmp_path / "b", TINY)
    assert _files(a) == _files(b)
    c = generate_synthetic(tmp_path / "c", SynthConfig(TINY.classes, 6, 8, 32, seed=1))
    video = "videos/object_moving_left/object_moving_left_000.mp4"
    assert (a / video).read_bytes() != (c / video).read_bytes()
    assert (a / "train.txt").read_bytes() == (c / "train.txt").read_bytes()
    assert read_frames(a / video, [0, 7]).shape == (2, 3, 32, 32)


def test_annotations_in_list_format(tmp_path: Path) -> None:
    root = generate_synthetic(tmp_path / "s", TINY)
    assert (root / "labels.csv").read_text().splitlines() == ["id,name"] + [
        f"{i},{n}" for i, n in enumerate(TINY.classes)
    ]
    adapter = get_dataset("list", root)
    sizes = {name: len(adapter.load_split(name)) for name in adapter.split_names()}
    assert sizes == {"train": 12, "test1": 4, "test2": 4, "test3": 4}
    names = [{r.path for r in adapter.load_split(s).records} for s in adapter.split_names()]
    assert sum(map(len, names)) == len(set().union(*names))  # the lists are disjoint
    assert [split_of(v, 48) for v in (0, 23, 24, 25, 26, 27)] == [
        "train",
        "train",
        "test1",
        "test2",
        "test3",
        "test1",
    ]


@pytest.mark.parametrize("pair", [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)])
def test_twin_classes_show_the_same_frames_in_reverse(pair: tuple[int, int]) -> None:
    # the label lives only in the order of frames: a frame-averaging model cannot tell twins apart
    (kind, forward), (kind_b, backward) = (MOTIONS[DEFAULT_CLASSES[i]] for i in pair)
    assert kind == kind_b
    scenes = [draw_scene(np.random.default_rng(5), kind, 64) for _ in range(2)]
    frames_forward = render(scenes[0], kind, forward, 9, 64)
    frames_backward = render(scenes[1], kind, backward, 9, 64)
    assert np.array_equal(frames_forward[::-1], frames_backward)
    assert (
        np.abs(frames_forward[0].astype(int) - frames_forward[-1].astype(int)).mean() > 2
    )  # it does move


def test_default_benchmark_generates_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_synthetic(tmp_path / "default")
    assert time.perf_counter() - start < 30
    assert len(list((tmp_path / "default" / "videos").rglob("*.mp4"))) == 480


def test_racing_processes_generate_once(tmp_path: Path) -> None:
    root = tmp_path / "shared" / "synthetic"
    with ProcessPoolExecutor(3) as pool:
        results = list(pool.map(ensure_synthetic, [root] * 3, [TINY] * 3))
    assert results == [root] * 3
    assert [p.name for p in root.parent.iterdir()] == [
        "synthetic"
    ]  # no temporary folder left behind
    assert _files(root) == _files(generate_synthetic(tmp_path / "single", TINY))


def test_ensure_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "synthetic").mkdir()
    (tmp_path / "synthetic" / "notes.txt").write_text("mine")
    with pytest.raises(OmniBenchError, match="exists but holds no labels.csv"):
        ensure_synthetic(tmp_path / "synthetic", TINY)


def test_bad_configs() -> None:
    with pytest.raises(OmniBenchError, match="unknown synthetic class 'object spinning'"):
        SynthConfig(classes=("object spinning",))
    with pytest.raises(OmniBenchError, match="--videos-per-class must be at least 6"):
        SynthConfig(videos_per_class=4)
    with pytest.raises(OmniBenchError, match="even --size"):
        SynthConfig(size=33)


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    argv = [
        "data",
        "synth",
        "--out",
        str(out),
        "--classes",
        "3",
        "--videos-per-class",
        "6",
        "--frames",
        "8",
        "--size",
        "32",
    ]
    assert main(argv) == 0
    assert "wrote 18 videos of 3 classes" in capsys.readouterr().out
    assert (out / "labels.csv").read_text().splitlines()[1:] == [
        "0,object moving left",
        "1,object moving right",
        "2,object moving up",
    ]
    assert main(argv) == 2  # the folder is no longer empty
    assert "is not empty" in capsys.readouterr().err
