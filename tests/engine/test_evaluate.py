"""Evaluation on fixed scores: views fused by mean softmax per video, broken videos counted apart.

The model reads each view's logits from its pixels, so every score is known in advance and the
fused scores and accuracies below are computed by hand from the table of logits.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from omnibench.data import VideoRecord, collate_clips
from omnibench.data.color import color_map, identity_affine
from omnibench.engine.distributed import DistContext
from omnibench.engine.evaluate import (
    EvalResult,
    EvalSettings,
    evaluate,
    predictions_frame,
)
from omnibench.engine.progress import ProgressReporter

CLASSES = ("run", "jump", "swim")
RAW_PIXELS = color_map(
    identity_affine(), (0.0, 0.0, 0.0), (1 / 255,) * 3
)  # float pixel = uint8 value
# Logits x 10 of each view (2 clips x 3 crops = 6 views) of each video; None: a broken video.
VIEWS: list[tuple[int, list[list[int]] | None]] = [
    (0, [[0, 200, 0]] + [[10, 0, 0]] * 5),  # first view says "jump"; the other five lean to "run"
    (2, [[0, 0, 10]] * 6),
    (1, None),
    (0, [[0, 10, 0]] * 5 + [[30, 0, 0]]),  # only the last view says "run"
]


class LogitsInPixels(nn.Module):
    """Logits of a view = its first frame's top-left pixel row (channel 0) / 10."""

    def forward(self, video: torch.Tensor, classnames: tuple[str, ...]) -> torch.Tensor:
        return video[:, 0, 0, 0, : len(classnames)] / 10


class FixedViews(Dataset):
    """Items as the data layer's ``VideoClipDataset`` makes them, with :data:`VIEWS` in the
    pixels."""

    def __len__(self) -> int:
        return len(VIEWS)

    def __getitem__(self, index: int) -> dict[str, object]:
        label, views = VIEWS[index]
        if views is None:
            return {"index": index, "broken": "truncated file"}
        video = torch.zeros(len(views), 2, 3, 4, 4, dtype=torch.uint8)  # (V, T, 3, S, S)
        video[:, 0, 0, 0, : len(CLASSES)] = torch.tensor(views, dtype=torch.uint8)
        return {
            "video": video,
            "color": RAW_PIXELS.expand(len(views), 3, 9),
            "label": label,
            "index": index,
        }


def softmax(logits: list[float]) -> list[float]:
    exps = [math.exp(x) for x in logits]
    return [e / sum(exps) for e in exps]


def hand_fused(views: list[list[int]]) -> list[float]:
    """Mean over views of each view's softmax, in plain Python."""
    probs = [softmax([x / 10 for x in view]) for view in views]
    return [sum(p[c] for p in probs) / len(probs) for c in range(len(CLASSES))]


def run_fixed(
    batch_size: int,
    views_per_forward: int,
    dataset: Dataset | None = None,
    model: nn.Module | None = None,
    amp_dtype: torch.dtype | None = None,
    ctx: DistContext | None = None,
    progress: ProgressReporter | None = None,
) -> EvalResult:
    records = [
        VideoRecord(Path(f"video{i}.mp4"), label, f"list.txt:{i + 1}")
        for i, (label, _) in enumerate(VIEWS)
    ]
    return evaluate(
        model or LogitsInPixels(),
        dataset or FixedViews(),
        CLASSES,
        name=("fixed", "test"),
        records=records,
        ctx=ctx or DistContext(),
        settings=EvalSettings(batch_size, views_per_forward, amp_dtype=amp_dtype),
        progress=progress or ProgressReporter(False, active=False),
        collate=collate_clips,
    )


@pytest.mark.parametrize(("batch_size", "views_per_forward"), [(2, 4), (4, 6), (1, 1)])
def test_views_are_fused_by_mean_softmax_per_video(batch_size: int, views_per_forward: int) -> None:
    result = run_fixed(batch_size, views_per_forward)
    assert (result.dataset, result.split, result.classnames) == ("fixed", "test", CLASSES)
    assert result.paths == ("video0.mp4", "video1.mp4", "video2.mp4", "video3.mp4")
    assert result.all_labels == (0, 2, 1, 0) and result.broken == [(2, "truncated file")]
    assert result.indices.tolist() == [0, 1, 3] and result.labels.tolist() == [0, 2, 0]
    expected = torch.tensor([hand_fused(views) for _, views in VIEWS if views is not None])
    torch.testing.assert_close(result.scores, expected, atol=1e-6, rtol=0)
    # By hand: video 0 fuses to run 0.480 > jump 0.343 (its first view alone, or the mean logit,
    # says jump); video 1 is swim; video 3 fuses to jump (only its last view says run).
    assert result.scores.argmax(dim=1).tolist() == [0, 2, 1]
    assert result.metrics == pytest.approx(
        {
            "top1": 200 / 3,
            "top5": 100.0,
            "mean_class": 75.0,
            "videos": 3,
            "skipped": 1,
            "nonfinite": 0,
        }
    )


def test_first_view_alone_would_score_otherwise() -> None:
    """The fixture separates fusion from its plausible mistakes: first view, mean logit, max."""
    views = VIEWS[0][1]
    assert max(range(3), key=lambda c: views[0][c]) == 1
    assert max(range(3), key=lambda c: sum(v[c] for v in views)) == 1
    assert max(range(3), key=lambda c: max(softmax([x / 10 for x in v])[c] for v in views)) == 1
    assert max(range(3), key=lambda c: hand_fused(views)[c]) == 0


def test_predictions_list_every_video_and_the_broken_one_with_its_reason() -> None:
    frame = predictions_frame(run_fixed(2, 4))
    assert frame["index"].tolist() == [0, 1, 2, 3]
    assert frame["pred"].tolist() == [0, 2, -1, 1] and frame["correct"].tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert frame["broken"].tolist() == ["", "", "truncated file", ""]
    assert frame["pred_name"].tolist()[:2] == ["run", "swim"] and frame["label_name"].tolist() == [
        "run",
        "swim",
        "jump",
        "run",
    ]
    assert frame.loc[frame["index"] == 0, "top_classes"].item() == "0 1 2"
    fused = hand_fused(VIEWS[0][1])
    assert frame.loc[frame["index"] == 0, "top_scores"].item() == " ".join(
        f"{v:.6f}" for v in sorted(fused)[::-1]
    )


def test_restricting_classes_renormalises_the_fused_scores() -> None:
    """Base-to-novel and class subsets: [run, swim] only; the broken 'jump' video leaves the
    subset."""
    result = run_fixed(2, 4).restrict([2, 0], "sub")
    assert result.classnames == ("swim", "run") and result.indices.tolist() == [0, 1, 3]
    assert result.labels.tolist() == [1, 0, 1] and result.broken == []
    rows = [hand_fused(views) for _, views in VIEWS if views is not None]
    expected = torch.tensor([[row[2], row[0]] for row in rows])
    torch.testing.assert_close(
        result.scores, expected / expected.sum(dim=1, keepdim=True), atol=1e-6, rtol=0
    )
    assert result.metrics["top1"] == pytest.approx(
        100.0
    )  # video 3 was "jump" among three; among two it is "run"


def _scored(
    classes: tuple[str, ...], labels: list[int], scores: list[list[float]], split: str
) -> EvalResult:
    paths = tuple(f"{split}{i}.mp4" for i in range(len(labels)))
    return EvalResult(
        "fixed",
        split,
        classes,
        paths,
        tuple(labels),
        torch.arange(len(labels)),
        torch.tensor(labels),
        torch.tensor(scores),
        [],
    )


def test_base_to_novel_metrics_by_hand() -> None:
    """Base: 1 of 2 right, per class 100 and 0. Novel: 3 of 4 right, per class 50, 100, 100."""
    from omnibench.protocols.base_to_novel import base_novel_metrics

    base = _scored(("a", "b"), [0, 1], [[0.9, 0.1], [0.8, 0.2]], "base")
    novel = _scored(
        ("c", "d", "e"),
        [2, 2, 0, 1],
        [[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1]],
        "novel",
    )
    assert base_novel_metrics(base, novel) == pytest.approx(
        {
            "base_top1": 50.0,
            "base_top5": 100.0,
            "base_mean_class": 50.0,
            "novel_top1": 75.0,
            "novel_top5": 100.0,
            "novel_mean_class": 250 / 3,
            "top1": 60.0,
            "top5": 100.0,
            "mean_class": 2 * 50 * (250 / 3) / (50 + 250 / 3),
            "hm": 60.0,
        }
    )


def test_restrict_keeps_the_dataset_relabels_every_video_and_keeps_broken_ones_of_the_subset() -> (
    None
):
    """Classes (c, a) of (a, b, c): videos of c become label 0, of a label 1, of b -1 (all videos,
    broken ones included); a broken video of c (new label 0) stays listed, one of b does not."""
    full = _scored(
        ("a", "b", "c"),
        [0, 2, 1],
        [[0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]],
        "test1",
    )
    full = dataclasses.replace(
        full,
        paths=(*full.paths, "test1_broken_c.mp4", "test1_broken_b.mp4"),
        all_labels=(0, 2, 1, 2, 1),
        broken=[(3, "truncated"), (4, "unreadable")],
    )
    subset = full.restrict([2, 0], "test1/subset1")
    assert (subset.dataset, subset.split, subset.classnames) == (
        "fixed",
        "test1/subset1",
        ("c", "a"),
    )
    assert subset.all_labels == (1, 0, -1, 0, -1) and subset.paths == full.paths
    assert subset.broken == [(3, "truncated")]
    assert subset.labels.tolist() == [1, 0] and subset.indices.tolist() == [0, 1]
    assert subset.scores.flatten().tolist() == pytest.approx([0.25, 0.75, 0.8 / 0.9, 0.1 / 0.9])


def test_summary_names_the_evaluation_its_chance_level_and_the_first_skipped_video() -> None:
    """record["evaluations"]'s entry: 3 classes (chance 1/3); the first of two broken videos gives
    the reason; without broken videos there is no reason at all."""
    full = _scored(("a", "b", "c"), [0, 1], [[0.6, 0.3, 0.1], [0.5, 0.2, 0.3]], "test1")
    full = dataclasses.replace(
        full,
        paths=(*full.paths, "b1.mp4", "b2.mp4"),
        all_labels=(0, 1, 2, 2),
        broken=[(2, "truncated"), (3, "unreadable")],
    )
    assert full.summary() == {
        "dataset": "fixed",
        "split": "test1",
        "top1": 50.0,
        "top5": 100.0,
        "mean_class": 50.0,
        "videos": 2,
        "skipped": 2,
        "nonfinite": 0,
        "classes": 3,
        "first_skipped": "truncated",
    }
    clean = dataclasses.replace(full, broken=[]).summary()
    assert "first_skipped" not in clean and (clean["skipped"], clean["classes"]) == (0, 3)


def test_videos_whose_scores_are_not_finite_are_counted_once_each() -> None:
    """Two of four rows hold a NaN or an inf (one entry, or all): 2, not 1 (every entry), 3 (rows
    with a finite entry) or 4 (entries); no videos count none."""
    nan, inf = float("nan"), float("inf")
    scores = [[0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [nan, 0.6, 0.4], [inf, inf, inf]]
    assert _scored(("a", "b", "c"), [1, 0, 1, 2], scores, "t").metrics["nonfinite"] == 2
    empty = dataclasses.replace(
        _scored(("a", "b", "c"), [], [], "t"), scores=torch.empty(0, 3), indices=torch.arange(0)
    )
    assert (empty.metrics["nonfinite"], empty.metrics["videos"]) == (0, 0)


class RepeatedVideo(FixedViews):
    """Video 3 comes back as video 1 (a loader that repeats one video and loses another)."""

    def __getitem__(self, index: int) -> dict[str, object]:
        return (
            {**super().__getitem__(index), "index": 1} if index == 3 else super().__getitem__(index)
        )


def test_an_evaluation_that_counts_a_video_twice_is_refused() -> None:
    """4 items (video 1 twice, video 3 never) is as wrong as 3 or 5: every video counts once."""
    with pytest.raises(
        RuntimeError, match=r"^evaluation counted 4 items \(3 distinct\) of 4 videos$"
    ):
        run_fixed(2, 4, RepeatedVideo())


class AllBroken(FixedViews):
    def __getitem__(self, index: int) -> dict[str, object]:
        return {"index": index, "broken": f"unreadable {index}"}


def test_an_evaluation_of_broken_videos_only_has_no_scores_and_counts_every_one() -> None:
    """Every video broken (or a rank's shard all broken): empty integer indices and labels, no
    scores over 3 classes, 4 skipped videos in order."""
    result = run_fixed(2, 4, AllBroken())
    assert (result.indices.dtype, result.labels.dtype) == (torch.long, torch.long)
    assert (result.indices.numel(), result.labels.numel(), result.scores.shape) == (0, 0, (0, 3))
    assert result.broken == [(i, f"unreadable {i}") for i in range(4)]
    assert (result.metrics["videos"], result.metrics["skipped"]) == (0, 4)


def test_a_shard_of_broken_videos_only_sends_empty_tensors() -> None:
    """What a rank whose videos are all broken gathers to the others: no index, label or score
    row (one stray row would shift every rank's rows after it), and its 4 broken videos."""
    from torch.utils.data import DataLoader

    from omnibench.engine.evaluate import _shard_scores

    loader = DataLoader(AllBroken(), batch_size=2, collate_fn=collate_clips)
    progress = ProgressReporter(False, active=False)
    part: dict[str, Any] = _shard_scores(
        LogitsInPixels(), loader, CLASSES, DistContext(), EvalSettings(), progress
    )
    assert [tuple(part[k].shape) for k in ("indices", "labels", "scores")] == [(0,), (0,), (0, 3)]
    assert [part[k].dtype for k in ("indices", "labels")] == [torch.long, torch.long]
    assert part["broken"] == [(i, f"unreadable {i}") for i in range(4)]


class RecordsAutocast(LogitsInPixels):
    """Notes, for each forward, the CPU autocast dtype (None when autocast is off)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.dtype | None] = []

    def forward(self, video: torch.Tensor, classnames: tuple[str, ...]) -> torch.Tensor:
        on = torch.is_autocast_enabled("cpu")
        self.seen.append(torch.get_autocast_dtype("cpu") if on else None)
        return super().forward(video, classnames)


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, None])
def test_every_forward_runs_under_the_evaluations_precision(amp_dtype: torch.dtype | None) -> None:
    """3 videos x 6 views in chunks of 6: 3 forwards, each under bf16 autocast or none; the
    softmax is taken in float32 either way (the fused scores are the hand values)."""
    model = RecordsAutocast()
    result = run_fixed(4, 6, model=model, amp_dtype=amp_dtype)
    assert model.seen == [amp_dtype] * 3
    expected = torch.tensor([hand_fused(views) for _, views in VIEWS if views is not None])
    torch.testing.assert_close(result.scores, expected, atol=1e-6, rtol=0)


class RecordsDevice(LogitsInPixels):
    """Notes the device of each chunk of clips it is given, then scores zeros on the CPU (a
    ``meta`` tensor has no values)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.device] = []

    def forward(self, video: torch.Tensor, classnames: tuple[str, ...]) -> torch.Tensor:
        self.seen.append(video.device)
        return super().forward(torch.zeros(video.shape), classnames)


def test_clips_reach_the_model_on_the_evaluations_device() -> None:
    """3 videos x 6 views in chunks of 4: 5 forwards, each on the context's device (``meta``
    here, where a GPU run has ``cuda``); equal logits fuse to 1/3 per class."""
    model = RecordsDevice()
    result = run_fixed(4, 4, model=model, ctx=DistContext(device=torch.device("meta")))
    assert model.seen == [torch.device("meta")] * 5
    torch.testing.assert_close(result.scores, torch.full((3, 3), 1 / 3))


class CountsBatches(ProgressReporter):
    def __init__(self) -> None:
        super().__init__(False, active=False)
        self.done: list[int] = []

    def update(self, done: int, *args: float | None) -> None:
        self.done.append(done)


def test_the_progress_line_counts_the_batches_evaluated() -> None:
    """4 videos in batches of 3: a phase of 2 batches, reported done as 1 then 2."""
    progress = CountsBatches()
    run_fixed(3, 6, progress=progress)
    assert (progress.total, progress.done) == (2, [1, 2])
