"""Supervised recognition (OmniCLIP §4.1, Table 1): train on the full training split (split 1
of HMDB51 / UCF101), evaluate the last epoch on the test split with 4 temporal x 3 spatial views
(``data.test_clips`` / ``data.test_crops``; the defaults module sets them)."""

from __future__ import annotations

from omnibench.config.protocol_options import SupervisedOptions
from omnibench.protocols.common import (
    ProtocolResult,
    RunContext,
    build_video_model,
    evaluate_split,
    guard,
    single_metrics,
    train,
)


def run(ctx: RunContext, options: SupervisedOptions) -> ProtocolResult:
    """Train, then evaluate once."""
    train_split = ctx.split(ctx.spec.dataset, options.train_split, train=True)
    eval_split = ctx.split(ctx.spec.dataset, options.eval_split)
    guard(ctx, train_split, [eval_split])
    model = build_video_model(ctx)
    trained = train(ctx, model, train_split)
    result = evaluate_split(ctx, model, eval_split)
    return ProtocolResult(model, train_split.classnames, [result], single_metrics(result), trained)
