"""`omnibench bench`: throughput, memory and loader speed of every model, side by side."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from omnibench.bench.settings import BenchSettings

if TYPE_CHECKING:
    from omnibench.bench import ModelResult

console = Console(
    width=None if sys.stdout.isatty() else 200
)  # wide tables when piped or redirected
err_console = Console(stderr=True)
# The settings' defaults, as the command shows them (one source: BenchSettings).
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(BenchSettings)}
TINY_BACKBONE = "omnibench-tiny-vit"  # runs in seconds on a CPU; use ViT-B-16 for real measurements


def _model_names(models: list[str] | None) -> tuple[str, ...]:
    """Names from repeated and/or comma-separated ``--models``; all registered models when
    absent."""
    if models:
        return tuple(name.strip() for value in models for name in value.split(",") if name.strip())
    from omnibench.models import MODELS  # noqa: PLC0415

    return tuple(MODELS.names())


def bench(
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models",
            "-m",
            help=(
                "Models (repeatable or comma-separated); "
                "default: all. vanilla_clip is always measured."
            ),
        ),
    ] = None,
    backbone: Annotated[
        str, typer.Option(help="open_clip backbone, random weights (e.g. ViT-B-16).")
    ] = TINY_BACKBONE,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = DEFAULTS["frames"],
    batch: Annotated[int, typer.Option(help="Clips per batch.")] = DEFAULTS["batch"],
    size: Annotated[
        int | None, typer.Option(help="Input size in pixels; default: the backbone's.")
    ] = None,
    classes: Annotated[
        int, typer.Option(help="Class names per forward (text and prompting cost).")
    ] = DEFAULTS["classes"],
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = DEFAULTS["device"],
    dtype: Annotated[str, typer.Option(help="fp32, bf16 or fp16 (autocast).")] = DEFAULTS["dtype"],
    repeats: Annotated[int, typer.Option(help="Timed repeats; the median is reported.")] = DEFAULTS[
        "repeats"
    ],
    warmup: Annotated[int, typer.Option(help="Untimed warm-up repeats.")] = DEFAULTS["warmup"],
    loader: Annotated[
        bool, typer.Option("--loader/--no-loader", help="Also measure the data loader.")
    ] = True,
    videos: Annotated[
        Path | None,
        typer.Option(help="Videos for the loader benchmark; default: generated H.264 clips."),
    ] = None,
    prepared: Annotated[
        bool,
        typer.Option(
            "--prepared/--no-prepared",
            help=(
                "Also read the loader input and its copy by `data prepare` side by side "
                "(without --videos: generated 1280x720 clips, a keyframe every 250 frames; "
                "a few minutes)."
            ),
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the tables as markdown to this file.")
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help="Write torch.profiler op tables of each model into this folder."),
    ] = None,
) -> None:
    """Measure every model side by side: inference clips/s, training-step time, peak memory, FLOP/s,
    data-loader speed, and OmniCLIP's efficiency targets."""
    from omnibench.bench import print_report, run_bench, to_markdown  # noqa: PLC0415

    settings = BenchSettings(
        models=_model_names(models),
        backbone=backbone,
        frames=frames,
        batch=batch,
        size=size,
        classes=classes,
        device=device,
        dtype=dtype,
        repeats=repeats,
        warmup=warmup,
    )

    def progress(result: ModelResult) -> None:
        if not as_json:
            train = "—" if result.train_step_ms is None else f"{result.train_step_ms:.1f} ms"
            err_console.print(
                f"{result.model}: {result.infer_clips_per_s:.2f} "
                f"clips/s inference, train step {train}",
                style="dim",
                highlight=False,
            )

    report = run_bench(
        settings,
        loader=loader,
        videos=videos,
        on_model=progress,
        profile_dir=profile,
        prepared=prepared,
    )
    if markdown is not None:
        from omnibench.atomic import atomic_write_text  # noqa: PLC0415

        markdown.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(markdown, to_markdown(report))
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        print_report(report, console)
