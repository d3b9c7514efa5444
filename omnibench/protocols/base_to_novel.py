"""Base-to-novel generalisation (ViFi-CLIP §3, app. D).

Classes are split in two halves: the ceil(C/2) most frequent training classes are *base*
(ties broken by class id; ``base_classes_file`` names them explicitly, e.g. ViFi-CLIP's
``*_base_labels.csv``), the rest *novel*. The model trains on ``shots`` (16) videos per base
class drawn with ``data_seed`` (the papers' three draws are three ``data_seed`` values, or
ViFi-CLIP's ``fs_base_s{1,2,3}_train.txt`` via ``shots_file``) using the base class names, and is
evaluated on the test split's base videos against the base names and on its novel videos
against the novel names. Metrics: ``base_*``, ``novel_*`` and ``hm`` (harmonic mean of the two
top-1); the generic ``top1`` / ``top5`` / ``mean_class`` are harmonic means of base and novel.
"""

from __future__ import annotations

from pathlib import Path

from omnibench.config.metrics import ACCURACIES
from omnibench.config.protocol_options import BaseToNovelOptions
from omnibench.data import Split
from omnibench.data.formats import parse_labels_csv
from omnibench.engine.evaluate import EvalResult
from omnibench.engine.metrics import harmonic_mean
from omnibench.protocols.common import (
    ProtocolResult,
    RunContext,
    build_video_model,
    evaluate_split,
    guard,
    train,
)
from omnibench.protocols.few_shot import draw_shots
from omnibench.protocols.sampling import base_novel_classes, classes_named, restrict_classes


def _base_classes(
    ctx: RunContext, options: BaseToNovelOptions, split: Split
) -> tuple[list[int], list[int]]:
    if options.base_classes_file is None:
        return base_novel_classes(split.class_counts())
    path = Path(options.base_classes_file).expanduser()
    ctx.files.append(path)
    base = classes_named(split, parse_labels_csv(path), str(path))
    return base, [c for c in range(split.num_classes) if c not in set(base)]


def run(ctx: RunContext, options: BaseToNovelOptions) -> ProtocolResult:
    """Train on K shots of the base classes; evaluate base and novel separately."""
    full = ctx.split(ctx.spec.dataset, options.train_split, train=True)
    eval_split = ctx.split(ctx.spec.dataset, options.eval_split)
    base, novel = _base_classes(ctx, options, full)
    base_train = restrict_classes(full, base, "base")
    shots = draw_shots(ctx, base_train, options.shots, options.shots_file)
    guard(ctx, shots, [eval_split])
    ctx.extra["base_to_novel"] = {
        "base": [full.classnames[c] for c in base],
        "novel": [full.classnames[c] for c in novel],
        "shots": options.shots,
        "videos": len(shots),
        "list": options.shots_file,
    }
    model = build_video_model(ctx)
    trained = train(ctx, model, shots)
    both = evaluate_split(ctx, model, eval_split)
    results = [
        both.restrict(base, f"{eval_split.name}/base"),
        both.restrict(novel, f"{eval_split.name}/novel"),
    ]
    return ProtocolResult(
        model, base_train.classnames, results, base_novel_metrics(*results), trained
    )


def base_novel_metrics(base: EvalResult, novel: EvalResult) -> dict[str, float]:
    """``base_*`` and ``novel_*`` accuracies, their harmonic means, and ``hm`` (that of top-1)."""
    b, n = base.metrics, novel.metrics
    return {
        **{f"base_{k}": b[k] for k in ACCURACIES},
        **{f"novel_{k}": n[k] for k in ACCURACIES},
        **{k: harmonic_mean(b[k], n[k]) for k in ACCURACIES},
        "hm": harmonic_mean(b["top1"], n["top1"]),
    }
