"""Zero-shot transfer (X-CLIP supp. §3.4, ViFi-CLIP app. D, OmniCLIP §4.3) and ``eval_only``.

``zero_shot`` trains on the spec's dataset (K400, 32 frames, 10 epochs) and evaluates the
same last-epoch model on each target: HMDB51 / UCF101 on test splits 1-3 with the full class
list (mean ± std of top-1); K600 on the 220 classes absent from K400, in three seeded random
subsets of 160 classes (mean ± std of top-1 and top-5). ``half_classes`` evaluates seeded random
halves of the classes instead (repeated). ``eval_only`` does the same without training (vanilla
CLIP zero-shot). Class subsets reuse one evaluation per split (see ``EvalResult.restrict``).

Metrics: ``<target>/top1_mean``, ``/top1_std``, ``/top5_mean``, ``/top5_std``, ``/mean_class_mean``
for every target; the unprefixed keys (``top1``, ``top1_mean``, ...) are those of the first target.
"""

from __future__ import annotations

import torch

from omnibench.config.metrics import ACCURACIES
from omnibench.config.protocol_options import EvalOnlyOptions, ZeroShotOptions
from omnibench.data import Split
from omnibench.engine.evaluate import EvalResult
from omnibench.engine.metrics import summarize
from omnibench.engine.trainer import TrainResult
from omnibench.protocols.common import (
    ProtocolResult,
    RunContext,
    build_video_model,
    evaluate_split,
    guard,
    load_run_weights,
    train,
)
from omnibench.protocols.sampling import novel_classes, restrict_classes, sample_class_subsets

__all__ = ["run", "target_metrics"]


def _subset_plan(
    ctx: RunContext, options: EvalOnlyOptions, target: str, split: Split
) -> list[tuple[int, ...]] | None:
    """Class subsets to score ``split`` on, or None for its full class list."""
    seed = ctx.spec.data_seed
    if target in options.novel_targets:
        reference = ctx.split(options.novel_reference, train=True).classnames
        novel = novel_classes(split.classnames, reference)
        ctx.extra.setdefault("novel_classes", {})[target] = [split.classnames[c] for c in novel]
        return sample_class_subsets(novel, options.subsets, options.subset_classes, seed)
    if options.half_classes:
        return sample_class_subsets(
            range(split.num_classes), options.half_class_repeats, split.num_classes // 2, seed
        )
    return None


def _evaluate_target(
    ctx: RunContext,
    model: torch.nn.Module,
    options: EvalOnlyOptions,
    target: str,
    splits: list[Split],
) -> list[EvalResult]:
    results = []
    for split in splits:
        plan = _subset_plan(ctx, options, target, split)
        if plan is None:
            results.append(evaluate_split(ctx, model, split))
            continue
        union = sorted({c for subset in plan for c in subset})
        full = evaluate_split(ctx, model, restrict_classes(split, union, "classes"))
        position = {c: i for i, c in enumerate(union)}
        for number, subset in enumerate(plan, start=1):
            results.append(
                full.restrict([position[c] for c in subset], f"{split.name}/subset{number}")
            )
        ctx.extra.setdefault("class_subsets", {})[f"{target}/{split.name}"] = [
            [split.classnames[c] for c in subset] for subset in plan
        ]
    return results


def target_metrics(results: dict[str, list[EvalResult]]) -> dict[str, float]:
    """Mean ± std over each target's evaluations; unprefixed keys for the first target."""
    metrics: dict[str, float] = {}
    for number, (target, evaluations) in enumerate(results.items()):
        summary = summarize([e.metrics for e in evaluations], keys=ACCURACIES)
        metrics.update({f"{target}/{key}": value for key, value in summary.items()})
        if number == 0:
            metrics.update(summary)
            metrics.update({key: summary[f"{key}_mean"] for key in ACCURACIES})
    return metrics


def run(ctx: RunContext, options: EvalOnlyOptions) -> ProtocolResult:
    """Train on the spec's dataset (``zero_shot`` only), then evaluate every target."""
    targets = options.targets or (ctx.spec.dataset,)
    splits = {target: ctx.test_splits(target, options.splits) for target in targets}
    train_split = (
        ctx.split(ctx.spec.dataset, options.train_split, train=True)
        if isinstance(options, ZeroShotOptions)
        else None
    )
    guard(ctx, train_split, [s for group in splits.values() for s in group])
    model = build_video_model(ctx)
    if options.weights_from is not None:
        load_run_weights(ctx, model, options.weights_from)
    trained: TrainResult | None = None
    classes: tuple[str, ...] = ()
    if train_split is not None:
        trained, classes = train(ctx, model, train_split), train_split.classnames
    results = {
        target: _evaluate_target(ctx, model, options, target, splits[target]) for target in targets
    }
    classes = classes or next(iter(splits.values()))[0].classnames
    evaluations = [e for group in results.values() for e in group]
    return ProtocolResult(model, tuple(classes), evaluations, target_metrics(results), trained)
