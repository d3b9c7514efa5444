"""The bench report as rich tables (terminal) or markdown (docs): the same rows for both."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from omnibench.bench.run import BenchReport
from omnibench.bench.settings import REFERENCE_MODEL

Rows = tuple[list[str], list[list[str]]]  # headers, rows of cells
_STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]"}


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def model_rows(report: BenchReport) -> Rows:
    """One row per model: speed, memory, FLOPs and ratios to the reference model."""
    headers = [
        "model",
        "params M",
        "trainable M",
        "GFLOPs/view",
        "infer clips/s",
        f"infer time × {REFERENCE_MODEL}",
        "train step ms",
        "train clips/s",
        "peak MiB infer / train",
        "TFLOP/s",
        "% of peak",
    ]
    rows = [
        [
            r.model,
            f"{r.params_total / 1e6:.2f}",
            f"{r.params_trainable / 1e6:.2f}",
            f"{r.gflops_view:.2f}",
            f"{r.infer_clips_per_s:.2f}",
            _ratio(r.infer_ratio),
            _fmt(r.train_step_ms, ".1f"),
            _fmt(r.train_clips_per_s, ".2f"),
            f"{r.infer_peak_mib:.0f} / {_fmt(r.train_peak_mib, '.0f')}",
            f"{r.achieved_tflops:.3f}",
            "—" if r.peak_fraction is None else f"{100 * r.peak_fraction:.1f}",
        ]
        for r in report.models
    ]
    return headers, rows


def loader_rows(report: BenchReport) -> Rows:
    """Per-worker data-path rates and the workers each model needs."""
    loader = report.loader
    if loader is None:
        return [], []
    headers = [
        "model",
        "clips/s train",
        "workers to feed training",
        "clips/s infer",
        "workers to feed inference",
    ]
    rate = {r.model: r for r in report.models}
    rows = [
        [
            name,
            _fmt(rate[name].train_clips_per_s, ".2f"),
            _fmt(need["train"], "d"),
            _fmt(rate[name].infer_clips_per_s, ".2f"),
            _fmt(need["infer"], "d"),
        ]
        for name, need in loader.workers.items()
    ]
    return headers, rows


def loader_summary(report: BenchReport) -> list[str]:
    """Lines describing the loader measurement."""
    loader = report.loader
    if loader is None:
        return ["loader: not measured (--no-loader)"]
    return [
        f"input: {loader.source}; {loader.frames} frames, short "
        f"side {loader.short_side}, crop {loader.input_size}",
        f"raw decord decode of the same frames: {loader.raw_clips_per_s:.1f} clips/s per worker",
        "decode + augment (training dataset: crop, flip, colour-map "
        f"draw): {loader.loader_clips_per_s:.1f} clips/s per worker"
        f" = {loader.ratio:.2f}× raw decode",
        "colour jitter + normalisation, run on the model's "
        f"device ({loader.color_device}) over a collated"
        f" batch: {loader.color_ms_per_clip:.2f} ms per clip",
    ]


def input_rows(report: BenchReport) -> Rows:
    """The loader per input (source, prepared copy), per worker, same frames and crop."""
    headers = [
        "input",
        "videos",
        "size",
        "keyframe every",
        "decode+augment clips/s",
        "× source",
        "the same, --decoder pyav",
        "raw decord clips/s",
        "raw PyAV keyframe-seek clips/s",
    ]
    rows = [
        [
            r.label,
            str(r.videos),
            r.size,
            _fmt(r.keyframe_interval, ".0f"),
            f"{r.loader_clips_per_s:.2f}",
            _ratio(r.speedup),
            f"{r.pyav_loader_clips_per_s:.2f} "
            f"({_ratio(r.pyav_loader_clips_per_s / r.loader_clips_per_s)})",
            f"{r.decord_clips_per_s:.2f}",
            f"{r.pyav_clips_per_s:.2f}",
        ]
        for r in report.inputs
    ]
    return headers, rows


def input_worker_rows(report: BenchReport) -> Rows:
    """Workers to feed each model's training / inference, per input."""
    headers = ["model", *(f"{r.label}: workers train / infer" for r in report.inputs)]
    names = list(report.inputs[0].workers) if report.inputs else []
    rows = [
        [
            name,
            *(
                f"{_fmt(r.workers[name]['train'], 'd')} / {_fmt(r.workers[name]['infer'], 'd')}"
                for r in report.inputs
            ),
        ]
        for name in names
    ]
    return headers, rows


def target_rows(report: BenchReport, styled: bool = False) -> Rows:
    """Each efficiency target with its measured value and verdict (rich-styled verdicts if
    ``styled``)."""
    headers = ["target", "measured", "limit", "status"]
    rows = [
        [
            t.name,
            _fmt(t.value, ".2f"),
            f"{t.op} {t.limit:g}",
            (_STATUS_STYLE[t.status] if styled else t.status) + (f" ({t.note})" if t.note else ""),
        ]
        for t in report.targets
    ]
    return headers, rows


def settings_lines(report: BenchReport) -> list[str]:
    """The settings and machine of the run, one fact per line."""
    s, m = report.settings, report.machine
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    return [
        f"backbone {s.backbone} (random weights), {s.frames} frames, batch {s.batch}, {s.size} px, "
        f"{s.classes} class names, {s.device} {s.dtype}; "
        f"median of {s.repeats} after {s.warmup} warm-up",
        f"machine: {m['cpu']} ({m['cpu_count']} cores, {m['torch_threads']} torch threads, "
        f"1-min load {m['load_avg_1min']}){gpu}; torch {m['torch']}, python {m['python']}",
        f"peak memory = {report.memory}; GFLOPs per view "
        "count a multiply-add as one flop (fvcore), "
        "TFLOP/s count it as two",
    ]


def _rich_table(title: str, rows: Rows) -> Table:
    headers, body = rows
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in body:
        table.add_row(*row)
    return table


def print_report(report: BenchReport, console: Console) -> None:
    """Print the report as rich tables."""
    for line in settings_lines(report):
        console.print(line, highlight=False)
    console.print(_rich_table("Models", model_rows(report)))
    for line in loader_summary(report):
        console.print(line, highlight=False)
    if report.loader is not None:
        console.print(_rich_table("Loader workers per model", loader_rows(report)))
    if report.inputs:
        console.print(_rich_table("Loader per input, one worker", input_rows(report)))
        console.print(_rich_table("Workers to feed, per input", input_worker_rows(report)))
    console.print(_rich_table("Targets", target_rows(report, styled=True)))


def _markdown_table(rows: Rows) -> list[str]:
    headers, body = rows
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def to_markdown(report: BenchReport) -> str:
    """The report as markdown: settings, models, loader, targets."""
    parts: list[Sequence[str]] = [
        [f"- {line}" for line in settings_lines(report)],
        ["", "#### Models", ""],
        _markdown_table(model_rows(report)),
        ["", "#### Data loader", ""],
        [f"- {line}" for line in loader_summary(report)],
    ]
    if report.loader is not None:
        parts += [[""], _markdown_table(loader_rows(report))]
    if report.inputs:
        parts += [
            ["", "#### Loader per input (source and prepared copy), one worker", ""],
            _markdown_table(input_rows(report)),
            [""],
            _markdown_table(input_worker_rows(report)),
        ]
    parts += [["", "#### Targets", ""], _markdown_table(target_rows(report))]
    return "\n".join(line for part in parts for line in part) + "\n"
