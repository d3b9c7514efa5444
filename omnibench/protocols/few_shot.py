"""Few-shot recognition (X-CLIP supp. §3.3, ViFi-CLIP app. D, OmniCLIP §4.2): K videos per class
from split-1 train (seeded by ``data_seed``, or a ViFi-CLIP list file), 32 frames, evaluated
single-view on split-1 test. The drawn list is written to ``train_list.txt`` in the run folder.
"""

from __future__ import annotations

from pathlib import Path

from omnibench.atomic import atomic_write_text
from omnibench.config.protocol_options import FewShotOptions
from omnibench.data import Split
from omnibench.protocols.common import (
    ProtocolResult,
    RunContext,
    build_video_model,
    evaluate_split,
    guard,
    single_metrics,
    train,
)
from omnibench.protocols.sampling import read_shot_list, sample_k_shot
from omnibench.store.run_files import SHOTS_FILE

__all__ = ["draw_shots", "run", "sample_k_shot", "write_shot_list"]


def write_shot_list(split: Split, path: Path) -> None:
    """The drawn training videos as a ``path label`` list (what the run trained on)."""
    atomic_write_text(path, "".join(f"{r.path} {r.label}\n" for r in split.records))


def draw_shots(ctx: RunContext, split: Split, shots: int, shots_file: str | None) -> Split:
    """The K-shot training list: read from ``shots_file`` (recorded) or drawn with ``data_seed``;
    rank 0 writes it to ``train_list.txt`` in the run folder."""
    if shots_file:
        path = Path(shots_file).expanduser()
        drawn = read_shot_list(path, split)
        ctx.files.append(path)
    else:
        drawn = sample_k_shot(split, shots, ctx.spec.data_seed)
    if ctx.dist.is_main:
        write_shot_list(drawn, ctx.run_dir / SHOTS_FILE)
    return drawn


def run(ctx: RunContext, options: FewShotOptions) -> ProtocolResult:
    """Draw (or read) the K-shot list, train, evaluate once."""
    full = ctx.split(ctx.spec.dataset, options.train_split, train=True)
    shots = draw_shots(ctx, full, options.shots, options.shots_file)
    eval_split = ctx.split(ctx.spec.dataset, options.eval_split)
    guard(ctx, shots, [eval_split])
    ctx.extra["shots"] = {
        "k": options.shots,
        "videos": len(shots),
        "list": options.shots_file,
        "data_seed": ctx.spec.data_seed,
    }
    model = build_video_model(ctx)
    trained = train(ctx, model, shots)
    result = evaluate_split(ctx, model, eval_split)
    return ProtocolResult(model, shots.classnames, [result], single_metrics(result), trained)
