"""The adapters and parsers on the real published split files (skipped when they are absent)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from omnibench.data import formats, get_dataset


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "none.yaml"))


def test_hmdb_val1(reference: Path) -> None:
    vifi = reference / "muzairkhattak_ViFi-CLIP"
    classes = formats.parse_labels_csv(vifi / "labels" / "hmdb_51_labels.csv")
    rows = formats.parse_list_file(
        vifi / "datasets_splits" / "hmdb_splits" / "val1.txt", len(classes)
    )
    counts = Counter(label for _, label, _ in rows)
    assert (
        len(rows) == 1530
        and len(classes) == 51
        and set(counts.values()) == {30}
        and len(counts) == 51
    )


def test_hmdb_adapter_orders_classes_like_the_published_labels(
    reference: Path, tmp_path: Path
) -> None:
    # official split files, one per class: the adapter's ids must equal X-CLIP / ViFi-CLIP's
    classes = formats.parse_labels_csv(
        reference / "microsoft_VideoX" / "X-CLIP" / "labels" / "hmdb_51_labels.csv"
    )
    folder = tmp_path / "hmdb51" / "testTrainMulti_7030_splits"
    folder.mkdir(parents=True)
    for name in reversed(classes):
        (folder / f"{name.replace(' ', '_')}_test_split1.txt").write_text("a.avi 1 \n")
    assert get_dataset("hmdb51", tmp_path / "hmdb51").load_split("train1").classnames == classes


def test_ucf101_official_lists(reference: Path, tmp_path: Path) -> None:
    root = tmp_path / "ucf101"
    root.mkdir()
    os.symlink(
        reference / "abosun_pytorch-action-master" / "ucfTrainTestlist", root / "ucfTrainTestlist"
    )
    adapter = get_dataset("ucf101", root)
    test, train = adapter.load_split("test1"), adapter.load_split("train1")
    assert (len(test), len(train), len(test.classnames)) == (3783, 9537, 101)
    assert len({r.label for r in test.records}) == 101
    assert test.classnames[0] == "apply eye makeup" and test.classnames[-1] == "yo-yo"
    vifi_val1 = (
        reference / "muzairkhattak_ViFi-CLIP" / "datasets_splits" / "ucf_splits" / "val1.txt"
    )
    vifi = {(Path(p).name, label) for p, label, _ in formats.parse_list_file(vifi_val1, 101)}
    assert vifi == {(r.path.name, r.label) for r in test.records}  # same videos, same label ids


def test_published_labels_and_lists_parse(reference: Path) -> None:
    vifi = reference / "muzairkhattak_ViFi-CLIP"
    for labels, lists in [
        ("ssv2_labels.csv", "ssv2_splits/validation.txt"),
        ("kinetics_400_labels.csv", "k400_splits/val.txt"),
        ("ZS_split1_K600.csv", "k600_splits/ZS_split1_K600_eval.txt"),
    ]:
        classes = formats.parse_labels_csv(vifi / "labels" / labels)
        assert formats.parse_list_file(vifi / "datasets_splits" / lists, len(classes))
