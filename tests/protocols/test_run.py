"""Protocols end to end on the synthetic benchmark with tiny random-weight models (CPU)."""

from __future__ import annotations

import csv
import json
import math
import statistics
import time
from pathlib import Path

import pytest
import torch

from omnibench.config.runtime import RuntimeOptions
from omnibench.config.spec import RunSpec
from omnibench.protocols import execute
from omnibench.protocols.leakage import LeakageError

RECORD_KEYS = {
    "run_id",
    "suite",
    "spec",
    "seeds",
    "git",
    "versions",
    "files",
    "classes",
    "cost",
    "wall_time_s",
    "clips_per_s",
    "skipped_videos",
    "leakage_override",
    "metrics",
    "evaluations",
}
TINY = {"backbone": "omnibench-tiny-vit", "pretrained": None}
SMALL_DATA = {"frames": 8, "input_size": 32, "short_side": 32}


def tiny_spec(protocol: str, model: str = "omniclip", **fields) -> RunSpec:
    """A CPU-sized spec: tiny ViT, 8 frames of 32 px, batch 8."""
    optim = {
        "epochs": 2,
        "batch_size": 8,
        "lr": 1e-3,
        "warmup_epochs": 1,
        **fields.pop("optim", {}),
    }
    data = {**SMALL_DATA, **fields.pop("data", {})}
    return RunSpec.from_dict(
        {
            "protocol": protocol,
            "dataset": "synthetic",
            "model": {"name": model, **TINY},
            "data": data,
            "optim": optim,
            **fields,
        }
    )


def run(spec: RunSpec, run_dir: Path, data_root: Path, workers: int = 0) -> dict:
    return execute(
        spec,
        run_dir,
        "test",
        RuntimeOptions(device="cpu", workers=workers, data_root=data_root, progress=False),
    )


def read_predictions(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_few_shot_run_end_to_end(data_root: Path, tmp_path: Path) -> None:
    spec = tiny_spec("few_shot", protocol_options={"shots": 4}, data_seed=2)
    began = time.perf_counter()
    record = run(spec, tmp_path, data_root)
    assert (
        time.perf_counter() - began < 120
    )  # train + eval of a few-shot run in under 2 minutes on CPU
    assert RECORD_KEYS <= set(record)
    assert json.loads((tmp_path / "record.json").read_text()) == json.loads(json.dumps(record))
    assert record["run_id"] == spec.run_id() and record["spec"] == spec.to_dict()
    assert record["seeds"] == {"seed": 1024, "data_seed": 2}
    assert record["classes"][0] == "object moving left" and len(record["classes"]) == 10
    root = data_root / "synthetic"
    assert {Path(p).name for p in record["files"]} == {"labels.csv", "train.txt", "test1.txt"}
    assert all(len(digest) == 64 for digest in record["files"].values())
    assert record["cost"]["params_trainable"] < record["cost"]["params_total"]
    assert record["cost"]["gflops_video"] > 0 and record["cost"]["gflops_text_one"] > 0
    assert record["weights"] == {
        "pretrained": None,
        "kind": "random init",
        "activation": "gelu",
        "activation_source": "backbone config 'omnibench-tiny-vit' (random init)",
        "published_as": None,
    }
    assert set(record["versions"]) >= {
        "python",
        "torch",
        "open_clip",
        "decord",
        "fvcore",
        "cuda",
        "gpu",
    }
    assert (
        record["skipped_videos"] == {"train": 0, "eval": 0} and record["leakage_override"] is False
    )
    assert record["leakage"][0]["shared_files"] == 0
    (evaluation,) = record["evaluations"]
    assert (evaluation["dataset"], evaluation["split"], evaluation["videos"]) == (
        "synthetic",
        "test1",
        80,
    )
    assert all(0 <= record["metrics"][k] <= 100 for k in ("top1", "top5", "mean_class"))
    assert record["train"]["optimizer_steps"] == 2 * 5 and len(record["train"]["history"]) == 2
    assert record["wall_time_s"] > 0 and record["clips_per_s"] > 0
    shots = (tmp_path / "train_list.txt").read_text().splitlines()
    assert len(shots) == 40 and all(line.startswith(str(root)) for line in shots)
    rows = read_predictions(tmp_path)
    assert sorted(int(r["index"]) for r in rows) == list(range(80))
    top1 = 100 * sum(r["correct"] == "True" for r in rows) / len(rows)
    assert top1 == pytest.approx(record["metrics"]["top1"])
    again = run(
        spec, tmp_path, data_root
    )  # a finished run resumes at its end: no training, same result
    assert (
        again["metrics"] == record["metrics"]
        and again["train"]["history"] == record["train"]["history"]
    )


def _list_dataset(root: Path, classes: list[str], lists: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True)
    (root / "labels.csv").write_text(
        "id,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(classes))
    )
    for name, lines in lists.items():
        (root / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return root


def _configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **roots: Path) -> None:
    """Declare list-format datasets in a datasets.yaml (the data layer's user configuration)."""
    config = tmp_path / "datasets.yaml"
    config.write_text(
        "".join(f"{name}: {{format: list, root: {root}}}\n" for name, root in roots.items())
    )
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))


def _synthetic_lines(data_root: Path, split: str) -> list[str]:
    return [
        f"../synthetic/{line}"
        for line in (data_root / "synthetic" / f"{split}.txt").read_text().splitlines()
    ]


def _linked_root(tmp_path: Path, data_root: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "synthetic").symlink_to(data_root / "synthetic")
    return root


def test_leakage_guard_refuses_then_records_the_override(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _linked_root(tmp_path, data_root)
    train, test = _synthetic_lines(data_root, "train"), _synthetic_lines(data_root, "test1")
    classes = ["object moving left", "object moving right"]
    leaky = _list_dataset(
        root / "leaky",
        classes,
        {"train": train[:4] + train[24:28], "test": train[2:4] + test[:4] + test[8:12]},
    )
    _configure(tmp_path, monkeypatch, leaky=leaky)
    spec = tiny_spec("supervised", dataset="leaky", optim={"epochs": 0})
    with pytest.raises(
        LeakageError,
        match=r"leaky/train \(8 videos\) overlaps leaky/test \(10 videos\): 2 shared files",
    ):
        run(spec, tmp_path / "refused", root)
    assert (
        not (tmp_path / "refused").exists() or not (tmp_path / "refused" / "record.json").exists()
    )
    record = run(spec.replace(allow_leakage=True), tmp_path / "allowed", root)
    assert record["leakage_override"] is True and record["leakage"][0]["shared_files"] == 2
    assert record["evaluations"][0]["videos"] == 10


def test_zero_shot_reports_mean_and_std_over_three_splits(data_root: Path, tmp_path: Path) -> None:
    spec = tiny_spec("zero_shot", optim={"epochs": 1}, protocol_options={"targets": ["synthetic"]})
    record = run(spec, tmp_path, data_root)
    evaluations = record["evaluations"]
    assert [e["split"] for e in evaluations] == ["test1", "test2", "test3"]
    assert all(e["videos"] == 80 for e in evaluations)
    top1 = [e["top1"] for e in evaluations]
    metrics = record["metrics"]
    assert metrics["top1_mean"] == pytest.approx(statistics.fmean(top1))
    assert metrics["top1_std"] == pytest.approx(statistics.stdev(top1))
    assert metrics["synthetic/top5_mean"] == pytest.approx(
        statistics.fmean(e["top5"] for e in evaluations)
    )
    assert metrics["top1"] == metrics["top1_mean"]
    assert len({r["split"] for r in read_predictions(tmp_path)}) == 3


def test_eval_only_half_classes_and_multi_view(data_root: Path, tmp_path: Path) -> None:
    spec = tiny_spec(
        "eval_only",
        model="vanilla_clip",
        optim={"epochs": 0},
        data={"test_clips": 2, "test_crops": 3},
        protocol_options={"splits": ["test2"], "half_classes": True, "half_class_repeats": 3},
    )
    record = run(spec, tmp_path, data_root)
    assert [e["split"] for e in record["evaluations"]] == [f"test2/subset{i}" for i in (1, 2, 3)]
    assert all(e["videos"] == 40 for e in record["evaluations"])  # 5 of 10 classes, 8 videos each
    subsets = record["class_subsets"]["synthetic/test2"]
    assert all(len(s) == 5 for s in subsets) and len({tuple(s) for s in subsets}) == 3
    assert record["train"] is None and record["clips_per_s"] > 0


def test_k600_style_novel_class_subsets(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A K600 stand-in (all 10 synthetic classes) minus a K400 stand-in (4 of them): 3 subsets of 4
    novel classes."""
    synthetic = data_root / "synthetic"
    classes = [
        line.split(",", 1)[1] for line in (synthetic / "labels.csv").read_text().splitlines()[1:]
    ]
    test = _synthetic_lines(data_root, "test1")
    root = _linked_root(tmp_path, data_root)
    k400 = _list_dataset(root / "k400", [c.upper() for c in classes[:4]], {"train": test[:1]})
    k600 = _list_dataset(root / "k600", classes, {"val": test})
    _configure(tmp_path, monkeypatch, k400=k400, k600=k600)
    spec = tiny_spec(
        "eval_only",
        model="vanilla_clip",
        optim={"epochs": 0},
        protocol_options={"targets": ["k600"], "subsets": 3, "subset_classes": 4},
    )
    record = run(spec, tmp_path / "run", root)
    assert record["novel_classes"]["k600"] == classes[4:]
    subsets = record["class_subsets"]["k600/val"]
    assert len(subsets) == 3 and all(len(s) == 4 and set(s) <= set(classes[4:]) for s in subsets)
    evaluations = record["evaluations"]
    assert [e["split"] for e in evaluations] == ["val/subset1", "val/subset2", "val/subset3"]
    assert all(
        e["videos"] == 32 and e["top5"] == 100.0 for e in evaluations
    )  # 4 classes: top-5 is certain
    assert record["metrics"]["k600/top1_std"] == pytest.approx(
        statistics.stdev(e["top1"] for e in evaluations)
    )


def test_base_to_novel_reports_base_novel_and_harmonic_mean(
    data_root: Path, tmp_path: Path
) -> None:
    spec = tiny_spec("base_to_novel", optim={"epochs": 1}, protocol_options={"shots": 2})
    record = run(spec, tmp_path, data_root)
    split = record["base_to_novel"]
    assert len(split["base"]) == len(split["novel"]) == 5 and not set(split["base"]) & set(
        split["novel"]
    )
    assert split["videos"] == 10 and record["classes"] == split["base"]
    base, novel = record["evaluations"]
    assert (base["split"], novel["split"], base["videos"], novel["videos"]) == (
        "test1/base",
        "test1/novel",
        40,
        40,
    )
    metrics = record["metrics"]
    b, n = metrics["base_top1"], metrics["novel_top1"]
    assert metrics["hm"] == pytest.approx(0.0 if b + n == 0 else 2 * b * n / (b + n))
    assert (b, n) == (base["top1"], novel["top1"])


def test_class_restriction_equals_evaluating_with_the_subset(
    data_root: Path, tmp_path: Path
) -> None:
    """Subsets are scored from one evaluation; for single-view inference that is exact."""
    from omnibench.engine.distributed import DistContext
    from omnibench.engine.progress import ProgressReporter
    from omnibench.protocols.common import RunContext, build_video_model, evaluate_split
    from omnibench.protocols.sampling import restrict_classes

    spec = tiny_spec("eval_only")
    ctx = RunContext(
        spec,
        tmp_path,
        "test",
        RuntimeOptions(device="cpu", workers=0, data_root=data_root),
        DistContext(),
        ProgressReporter(False, active=False),
    )
    model = build_video_model(ctx)
    with torch.no_grad():  # give the identity-initialised modules something to do
        for param in model.parameters():
            if param.requires_grad:
                param.normal_(0, 0.2)
    split = ctx.split("synthetic", "test3")
    full = evaluate_split(ctx, model, split)
    subset = [8, 1, 5]
    direct = evaluate_split(ctx, model, restrict_classes(split, subset, "three"))
    derived = full.restrict(subset, "three")
    assert torch.equal(
        derived.indices,
        torch.as_tensor([i for i, r in enumerate(split.records) if r.label in subset]),
    )
    assert torch.equal(derived.labels, direct.labels)
    assert torch.allclose(derived.scores, direct.scores, atol=1e-5)
    assert derived.metrics == direct.metrics and not math.isnan(direct.metrics["top1"])


def test_frame_size_mismatch_fails_before_training(data_root: Path, tmp_path: Path) -> None:
    from omnibench.errors import OmniBenchError

    spec = tiny_spec(
        "few_shot", data={"input_size": 24, "short_side": 32}, protocol_options={"shots": 2}
    )
    with pytest.raises(
        OmniBenchError,
        match="data.input_size is 24 but omniclip on 'omnibench-tiny-vit' takes 32 px",
    ):
        run(spec, tmp_path, data_root)
    assert not (tmp_path / "checkpoint.pt").exists()
