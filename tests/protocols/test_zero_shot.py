"""Zero-shot targets: which class subsets a split is scored on, and one evaluation per split
restricted to each subset."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from omnibench.config.protocol_options import EvalOnlyOptions
from omnibench.data import Split, VideoRecord
from omnibench.engine.evaluate import EvalResult
from omnibench.protocols import zero_shot
from omnibench.protocols.zero_shot import _evaluate_target, _subset_plan

CLASSES = ("a", "b", "c", "d", "e", "f")
# Video i (label i) scores its own class 3 and its rival class 4, every other class 1: it is
# right exactly when its rival is not among the classes scored (videos 0 and 3 have none).
RIVAL = {0: 0, 1: 2, 2: 1, 3: 3, 4: 5, 5: 1}


def _split(name: str) -> Split:
    records = tuple(VideoRecord(Path(f"v{i}.mp4"), i, f"l:{i}") for i in range(6))
    return Split("hmdb51", name, records, CLASSES, ())


def _context(seed: int, reference: tuple[str, ...] = ()) -> SimpleNamespace:
    """What the plan reads: the data seed, the reference dataset's training classes."""
    asked: list[tuple[str, bool]] = []

    def split(dataset: str, train: bool = False) -> SimpleNamespace:
        asked.append((dataset, train))
        return SimpleNamespace(classnames=reference)

    return SimpleNamespace(spec=SimpleNamespace(data_seed=seed), split=split, extra={}, asked=asked)


def _scored(split: Split) -> EvalResult:
    """A model whose score of a class depends on the video and that class only (as CLIP's), on
    the split's class list."""
    columns = [CLASSES.index(name) for name in split.classnames]
    raw = torch.ones(6, 6) + 2 * torch.eye(6)
    for video, rival in RIVAL.items():
        raw[video, rival] = 3.0 if rival == video else 4.0
    rows = [int(r.path.stem[1:]) for r in split.records]
    scores = raw[rows][:, columns]
    labels = [r.label for r in split.records]
    return EvalResult(
        split.dataset,
        split.name,
        split.classnames,
        tuple(str(r.path) for r in split.records),
        tuple(labels),
        torch.arange(len(rows)),
        torch.tensor(labels),
        scores / scores.sum(dim=1, keepdim=True),
        [],
    )


def test_a_novel_target_draws_subsets_of_the_classes_its_reference_lacks() -> None:
    """K600-style: the classes outside the reference's training classes (names compared without
    case), ``subsets`` draws of ``subset_classes`` of them seeded by the data seed; the novel
    names are recorded next to those of other targets."""
    ctx = _context(seed=1, reference=("A", "b", "zebra"))
    ctx.extra["novel_classes"] = {"other": ["x"]}
    options = EvalOnlyOptions(novel_targets=("k600",), novel_reference="k400", subset_classes=2)
    plan = _subset_plan(ctx, options, "k600", _split("val"))  # type: ignore[arg-type]
    assert plan == [(3, 4), (3, 5), (3, 5)]  # 3 draws of 2 from c, d, e, f with seed 1
    assert ctx.asked == [("k400", True)]
    assert ctx.extra["novel_classes"] == {"other": ["x"], "k600": ["c", "d", "e", "f"]}
    assert (
        _subset_plan(_context(seed=0, reference=("a", "b")), options, "k600", _split("val")) != plan
    )  # type: ignore[arg-type]


def test_half_classes_draws_halves_and_a_plain_target_is_scored_on_every_class() -> None:
    ctx = _context(seed=1)
    halves = EvalOnlyOptions(half_classes=True, half_class_repeats=2)
    assert _subset_plan(ctx, halves, "hmdb51", _split("test1")) == [(1, 2, 4), (1, 2, 5)]  # type: ignore[arg-type]
    assert _subset_plan(_context(seed=0), halves, "hmdb51", _split("test1")) == [  # type: ignore[arg-type]
        (3, 4, 5),
        (2, 4, 5),
    ]
    assert _subset_plan(ctx, EvalOnlyOptions(), "hmdb51", _split("test1")) is None  # type: ignore[arg-type]
    assert ctx.asked == [] and ctx.extra == {}


def test_each_split_is_evaluated_once_then_restricted_to_each_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Halves (b, c, e) and (b, c, f) of seed 1: the union b, c, e, f is evaluated once per split;
    on (b, c, e) video 4 is right (its rival f is out), 1 and 2 are wrong (each other's rival):
    top-1 1/3; on (b, c, f) all three are wrong. On every class, videos 0 and 3 are right: 2/6."""
    evaluated: list[tuple[str, tuple[str, ...]]] = []
    ctx, model = _context(seed=1), torch.nn.Identity()

    def evaluate(context: object, evaluated_model: object, split: Split) -> EvalResult:
        assert context is ctx and evaluated_model is model
        evaluated.append((split.name, split.classnames))
        return _scored(split)

    monkeypatch.setattr(zero_shot, "evaluate_split", evaluate)
    splits = [_split("test1"), _split("test2")]
    plain = _evaluate_target(ctx, model, EvalOnlyOptions(), "hmdb51", splits)  # type: ignore[arg-type]
    assert [(r.split, r.metrics["top1"]) for r in plain] == [
        ("test1", pytest.approx(100 / 3)),
        ("test2", pytest.approx(100 / 3)),
    ]
    assert ctx.extra == {}
    evaluated.clear()
    halves = EvalOnlyOptions(half_classes=True, half_class_repeats=2)
    results = _evaluate_target(ctx, model, halves, "hmdb51", splits)  # type: ignore[arg-type]
    assert evaluated == [(f"test{n}/classes", ("b", "c", "e", "f")) for n in (1, 2)]
    assert [(r.split, r.classnames, r.metrics["top1"], r.metrics["videos"]) for r in results] == [
        (f"test{n}/subset{s}", names, pytest.approx(top1), 3)
        for n in (1, 2)
        for s, names, top1 in ((1, ("b", "c", "e"), 100 / 3), (2, ("b", "c", "f"), 0.0))
    ]
    drawn = [["b", "c", "e"], ["b", "c", "f"]]
    assert ctx.extra["class_subsets"] == {"hmdb51/test1": drawn, "hmdb51/test2": drawn}


def test_a_novel_target_is_evaluated_on_its_novel_subsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 1's draws of 2 of the novel c, d, e, f: (d, e), (d, f), (d, f), all from one
    evaluation on d, e, f; videos 3 (no rival), 4 and 5 (rivals f and b out) are right."""
    evaluated: list[tuple[str, tuple[str, ...]]] = []

    def evaluate(context: object, model: object, split: Split) -> EvalResult:
        evaluated.append((split.name, split.classnames))
        return _scored(split)

    monkeypatch.setattr(zero_shot, "evaluate_split", evaluate)
    ctx = _context(seed=1, reference=("A", "b"))
    options = EvalOnlyOptions(novel_targets=("k600",), subset_classes=2)
    results = _evaluate_target(ctx, None, options, "k600", [_split("val")])  # type: ignore[arg-type]
    assert evaluated == [("val/classes", ("d", "e", "f"))]
    assert [(r.split, r.classnames, r.metrics["top1"]) for r in results] == [
        ("val/subset1", ("d", "e"), 100.0),
        ("val/subset2", ("d", "f"), 100.0),
        ("val/subset3", ("d", "f"), 100.0),
    ]
    assert ctx.extra["class_subsets"] == {"k600/val": [["d", "e"], ["d", "f"], ["d", "f"]]}
