"""End to end, the recorded accuracy equals one fixed in advance, and a broken test video is
counted apart: out of the denominator, in record.json's counts and in predictions.csv.

A first run of frozen (random tiny) CLIP gives every video's five best classes. The test then
relabels the same videos so that exactly 4 of 12 are top-1 hits and 3 more are top-5 hits, and
a second run on the relabelled list must record exactly those
numbers: a wrong metric, denominator or class order cannot reproduce them.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.protocols import execute

HITS, TOP5_ONLY, MISSES = 4, 3, 5  # of the 12 readable videos, in this order
BROKEN_AT = 5  # list position of the truncated video


def _write_dataset(root: Path, classes: list[str], rows: list[tuple[str, int]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text(
        "id,name\n" + "".join(f"{i},{name}\n" for i, name in enumerate(classes))
    )
    (root / "test.txt").write_text("".join(f"{path} {label}\n" for path, label in rows))


def _run(root: Path, run_dir: Path) -> tuple[dict, list[dict[str, str]]]:
    spec = RunSpec.from_dict(
        {
            "protocol": "eval_only",
            "dataset": "probe",
            "protocol_options": {"splits": ["test"]},
            "model": {"name": "vanilla_clip", "backbone": "omnibench-tiny-vit", "pretrained": None},
            "data": {
                "frames": 4,
                "input_size": 32,
                "short_side": 32,
                "test_clips": 2,
                "test_crops": 3,
            },
            "optim": {"epochs": 0, "batch_size": 4},
            "max_skipped": 0.1,
        }
    )  # 1 of 13 videos is broken on purpose
    record = execute(
        spec,
        run_dir,
        "test",
        RuntimeOptions(device="cpu", workers=0, data_root=root, progress=False),
    )
    with open(run_dir / "predictions.csv", newline="") as handle:
        return record, list(csv.DictReader(handle))


def test_recorded_accuracy_equals_a_labelling_built_for_it(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic = data_root / "synthetic"
    classes = [
        line.split(",", 1)[1] for line in (synthetic / "labels.csv").read_text().splitlines()[1:]
    ]
    videos = [
        f"../synthetic/{line.split()[0]}"
        for line in (synthetic / "test1.txt").read_text().splitlines()[::7]
    ][:12]
    good = (synthetic / videos[0].removeprefix("../synthetic/")).read_bytes()
    (tmp_path / "data" / "broken").mkdir(parents=True)
    (tmp_path / "data" / "broken" / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (tmp_path / "data" / "synthetic").symlink_to(synthetic)
    paths = videos[:BROKEN_AT] + ["../broken/truncated.mp4"] + videos[BROKEN_AT:]
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "datasets.yaml"))
    (tmp_path / "datasets.yaml").write_text(
        f"probe: {{format: list, root: {tmp_path / 'data' / 'probe'}}}\n"
    )

    _write_dataset(tmp_path / "data" / "probe", classes, [(p, 0) for p in paths])
    _, first = _run(tmp_path / "data", tmp_path / "first")
    ranked = {
        int(row["index"]): [int(c) for c in row["top_classes"].split()]
        for row in first
        if not row["broken"]
    }
    readable = [i for i in range(len(paths)) if i != BROKEN_AT]
    assert sorted(ranked) == readable and all(len(r) == 5 for r in ranked.values())

    # the new label of each readable video: its top-1, its 2nd class, or a class outside its top 5
    labels = {}
    for order, index in enumerate(readable):
        if order < HITS:
            labels[index] = ranked[index][0]
        elif order < HITS + TOP5_ONLY:
            labels[index] = ranked[index][1]
        else:
            labels[index] = next(c for c in range(len(classes)) if c not in ranked[index])
    _write_dataset(
        tmp_path / "data" / "probe", classes, [(p, labels.get(i, 3)) for i, p in enumerate(paths)]
    )
    record, rows = _run(tmp_path / "data", tmp_path / "second")

    hits = {
        c: sum(1 for o, i in enumerate(readable) if o < HITS and labels[i] == c)
        for c in labels.values()
    }
    counts = Counter(labels.values())
    expected = {
        "top1": 100 * HITS / 12,
        "top5": 100 * (HITS + TOP5_ONLY) / 12,
        "mean_class": 100 * sum(hits[c] / counts[c] for c in counts) / len(counts),
    }
    (evaluation,) = record["evaluations"]
    assert evaluation.pop("first_skipped").endswith(
        "broken/truncated.mp4: cannot open: not a readable video (corrupt or truncated)"
    )
    assert evaluation == pytest.approx(
        {
            "dataset": "probe",
            "split": "test",
            "videos": 12,
            "skipped": 1,
            "nonfinite": 0,
            "classes": len(classes),  # scored against all 10: chance is 10 %
            **expected,
        }
    )
    assert {k: record["metrics"][k] for k in expected} == pytest.approx(expected)
    assert record["skipped_videos"] == {"train": 0, "eval": 1}

    assert [int(r["index"]) for r in rows] == list(range(13))
    broken = rows[BROKEN_AT]
    assert (
        broken["path"].endswith("truncated.mp4")
        and broken["pred"] == "-1"
        and broken["correct"] == "False"
    )
    assert broken["broken"] and broken["label"] == "3"
    assert [r["correct"] == "True" for r in rows if not r["broken"]] == [
        o < HITS for o in range(12)
    ]
    assert all(
        r["top_classes"] == f["top_classes"] for r, f in zip(rows, first)
    )  # same model, same views


def test_base_to_novel_with_named_base_classes_and_a_shot_list(
    data_root: Path, tmp_path: Path
) -> None:
    """ViFi-CLIP's files: the base classes named in a CSV, the training videos in a shot list; the
    record names both halves, the list and its files, and evaluates base and novel on the chosen
    split."""
    synthetic = data_root / "synthetic"
    classes = [
        line.split(",", 1)[1] for line in (synthetic / "labels.csv").read_text().splitlines()[1:]
    ]
    base = [1, 3, 5, 7, 9]  # not the default (the most frequent half, ties by id: 0-4)
    base_file = tmp_path / "base_labels.csv"
    base_file.write_text("id,name\n" + "".join(f"{i},{classes[c]}\n" for i, c in enumerate(base)))
    lines = [line.split() for line in (synthetic / "test3.txt").read_text().splitlines()]
    shots = [path for c in base for path in [p for p, label in lines if int(label) == c][:2]]
    shots_file = tmp_path / "fs_base_s1_train.txt"
    shots_file.write_text("".join(f"{Path(p).name} 0\n" for p in shots))
    spec = RunSpec.from_dict(
        {
            "protocol": "base_to_novel",
            "dataset": "synthetic",
            "protocol_options": {
                "shots": 2,
                "train_split": "test3",
                "eval_split": "test2",
                "base_classes_file": str(base_file),
                "shots_file": str(shots_file),
            },
            "model": {"name": "omniclip", "backbone": "omnibench-tiny-vit", "pretrained": None},
            "data": {"frames": 4, "input_size": 32, "short_side": 32},
            "optim": {"epochs": 0, "batch_size": 4},
        }
    )
    record = execute(
        spec,
        tmp_path / "run",
        "test",
        RuntimeOptions(device="cpu", workers=0, data_root=data_root, progress=False),
    )
    assert record["base_to_novel"] == {
        "base": [classes[c] for c in base],
        "shots": 2,
        "videos": 10,
        "novel": [classes[c] for c in range(10) if c not in base],
        "list": str(shots_file),
    }
    assert (
        record["classes"] == [classes[c] for c in base] and record["train"]["optimizer_steps"] == 0
    )
    assert [(e["split"], e["videos"]) for e in record["evaluations"]] == [
        ("test2/base", 40),
        ("test2/novel", 40),
    ]
    assert {
        str(base_file),
        str(shots_file),
        str(synthetic / "test2.txt"),
        str(synthetic / "test3.txt"),
    } <= {str(Path(p)) for p in record["files"]}
    trained_on = [
        Path(line.split()[0]).name
        for line in (tmp_path / "run" / "train_list.txt").read_text().splitlines()
    ]
    assert trained_on == [Path(p).name for p in shots]
