"""`omnibench data show` and `omnibench data check` on a generated list-format dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.data import SynthConfig, generate_synthetic
from omnibench.data.synth import DEFAULT_CLASSES
from tests.conftest import Invoke


@pytest.fixture()
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "none.yaml"))
    return generate_synthetic(
        tmp_path / "data", SynthConfig(DEFAULT_CLASSES[:2], videos_per_class=6, frames=8, size=32)
    )


def test_show_json(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "show", str(dataset), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["splits"] == {"test1": 2, "test2": 2, "test3": 2, "train": 6}
    assert shown["classes"] == ["object moving left", "object moving right"]


def test_show_table_and_unknown_split(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "show", str(dataset), "--split", "train"]) == 0
    assert "object moving right" in capsys.readouterr().out
    assert main(["data", "show", str(dataset), "--split", "tran"]) == 2
    assert "did you mean 'train'" in capsys.readouterr().err


def test_check_passes_then_lists_broken_videos(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "check", str(dataset), "--workers", "2"]) == 0
    assert "all 12 videos" in capsys.readouterr().out
    (dataset / "videos" / "empty.mp4").write_bytes(b"")
    with (dataset / "test2.txt").open("a") as lists:
        lists.write("videos/empty.mp4 1\nvideos/gone.mp4 0\n")
    assert main(["data", "check", str(dataset), "--split", "test2", "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert "2 of 4 videos of" in out and "zero-byte" in out and "missing" in out


def test_check_prints_each_broken_video_whole_and_as_json(dataset: Path, cli: Invoke) -> None:
    deep = (
        dataset
        / "videos"
        / ("a-very-long-folder-name-as-on-a-cluster-" * 3)
        / "v_ApplyEyeMakeup_g08_c01.mp4"
    )
    deep.parent.mkdir()
    deep.write_bytes(b"not a video")
    with (dataset / "test1.txt").open("a") as lists:
        lists.write(f"{deep.relative_to(dataset)} 0\n")
    code, out = cli("data", "check", str(dataset), "--split", "test1", "-j", "1", columns=80)
    assert code == 1
    assert (
        f"{dataset / 'test1.txt'}:3: {deep}: " in out
    )  # list line, the video's whole path, the reason on one line
    code, out = cli("data", "check", str(dataset), "--split", "test1", "-j", "1", "--json")
    report = json.loads(out)
    assert code == 1 and (report["videos"], report["splits"]) == (3, ["test1"])
    assert [(b["source"], b["path"]) for b in report["broken"]] == [
        (f"{dataset / 'test1.txt'}:3", str(deep))
    ]
    code, out = cli("data", "check", str(dataset), "--split", "tset1", "--json")
    assert code == 2 and "did you mean 'test1'" in out


def test_malformed_list_line_is_one_line_error(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (dataset / "test1.txt").write_text("videos/a.mp4 0\nvideos/b.mp4\n")
    assert main(["data", "show", str(dataset)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{dataset / 'test1.txt'}:2: expected 'relpath label'" in err.replace("\n", "")
