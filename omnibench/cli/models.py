"""`omnibench flops MODEL`: GFLOPs per view, text GFLOPs and parameter counts of a model."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from omnibench.suite.paths import parse_assignment

console = Console()


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs -> options dict; values are read as YAML scalars / lists (``1e-3`` a
    number)."""
    return dict(parse_assignment(pair, "--option", "ratio=0.125") for pair in pairs)


SizeOpt = Annotated[
    int | None, typer.Option("--size", "-s", min=8, help="Frame size (default: the backbone's).")
]
ClassesOpt = Annotated[
    int, typer.Option("--classes", "-c", min=1, help="C for the text cost of C class prompts.")
]
OptionOpt = Annotated[
    list[str] | None, typer.Option("--option", "-o", help="Model option KEY=VALUE (repeatable).")
]


def flops(
    model: Annotated[
        str, typer.Argument(help="Registered model name (see `omnibench ls models`).")
    ],
    frames: Annotated[int, typer.Option("--frames", "-t", min=1, help="Frames per view.")] = 8,
    size: SizeOpt = None,
    backbone: Annotated[
        str, typer.Option("--backbone", "-b", help="open_clip backbone.")
    ] = "ViT-B-16",
    classes: ClassesOpt = 400,
    option: OptionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Count GFLOPs (one multiply-add = one flop, attention included; also with attention modules
    skipped, as thop counts) per component, and parameters; random weights."""
    from omnibench.config.spec import ModelSpec  # noqa: PLC0415
    from omnibench.engine.cost import measure_cost  # noqa: PLC0415
    from omnibench.models import build_model  # noqa: PLC0415
    from omnibench.report.published import published_gflops  # noqa: PLC0415

    spec = ModelSpec(
        name=model, backbone=backbone, pretrained=None, options=parse_options(option or [])
    )
    built = build_model(spec, frames=frames, image_size=size)
    cost = measure_cost(built, frames, built.image_size, classes)
    paper = published_gflops(model, backbone, frames, built.image_size)
    if as_json:
        print(json.dumps({**cost.to_dict(), "options": dict(spec.options), "published": paper}))
    else:
        _print_cost(
            cost.to_dict(),
            paper,
            title=f"{model} on {backbone}, {frames} frames at {built.image_size}px",
        )


def _print_cost(numbers: dict[str, Any], paper: dict[str, Any] | None, title: str) -> None:
    """One row per number with what it covers; the paper's value last where one exists."""
    from omnibench.engine.cost import SCOPES  # noqa: PLC0415

    table = Table(title=title)
    for column in ("quantity", "value", "scope"):
        table.add_column(column)
    for key, scope in SCOPES.items():
        value = numbers[key]
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
        table.add_row(key, shown, scope.replace("C prompts", f"C = {numbers['classes']}"))
    if paper is not None:
        table.add_row("published GFLOPs", f"{paper['gflops']:.4g}", paper["scope"])
    console.print(table)
    _print_breakdown(numbers["breakdown"])


def _print_breakdown(breakdown: dict[str, Any]) -> None:
    """One row per component: GFLOPs (fvcore), the attention matmuls inside them, GFLOPs without
    attention."""
    table = Table(title="per component, one view and one class prompt")
    for column in (
        "component",
        "side",
        "GFLOPs",
        "of which QKᵀ/AV",
        "GFLOPs, attention skipped (thop)",
    ):
        table.add_column(column, justify="left" if column in ("component", "side") else "right")
    for part in breakdown["parts"]:
        table.add_row(
            part["label"],
            part["side"],
            f"{part['gflops']:.4g}",
            f"{part['attention_matmuls']:.4g}",
            f"{part['gflops_no_attention']:.4g}",
        )
    console.print(table)
