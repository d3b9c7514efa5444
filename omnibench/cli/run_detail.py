"""``omnibench status SUITE --run ID``: one run in detail (error, log, job, results, spec, the
log's last lines)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from omnibench.cli.run_tables import cell_text, short_path
from omnibench.config.metrics import ACCURACIES, METRICS
from omnibench.report.labels import plural
from omnibench.store.acceptance import skipped
from omnibench.store.chance import AT_CHANCE, DIVERGED, chance_loss, run_at_chance
from omnibench.store.train_steps import TrainSteps
from omnibench.suite.paths import flatten


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    names = {name: METRICS.get(name).short for name in ACCURACIES}
    names["top1_std"] = f"{names['top1']} std"
    return " · ".join(
        f"{label} {metrics[key]:.2f}"
        for key, label in names.items()
        if isinstance(metrics.get(key), (int, float))
    )


def _record_lines(spec: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    data = spec.get("data") or {}
    views = (
        f"{data.get('test_clips', 1)} clip(s) x {data.get('test_crops', 1)} "
        f"crop(s) of {data.get('frames')} frames"
    )
    lines = [f"result   {_metrics_text(record.get('metrics') or {})} ({views})"]
    for item in record.get("evaluations") or ():
        broken = f", {item['skipped']} skipped" if item.get("skipped") else ""
        lines.append(
            f"  {item.get('dataset')}/{item.get('split')}: "
            f"{_metrics_text(item)} on {item.get('videos')} videos{broken}"
        )
    counts = skipped(record)
    lines.append(
        f"skipped  {counts.text() or 'none'} (broken videos; at "
        f"most {100 * spec.get('max_skipped', 0):.3g}% allowed)"
    )
    lines.append(
        f"time     {record.get('wall_time_s', 0):.0f} s "
        f"wall, {record.get('clips_per_s', 0):.1f} clips/s"
    )
    return lines


def training_line(steps: TrainSteps | None, record: Mapping[str, Any] | None) -> Text | None:
    """``omnibench status SUITE --run ID``: the training curve in one line (steps, last epoch's
    loss against a guess's), marked when it diverged or the run ended at chance."""
    if steps is None or not len(steps):
        return None
    epoch, loss = list(steps.epoch_means().items())[-1]
    guess = chance_loss(steps.classes)
    line = Text(
        f"training {plural(len(steps), 'optimiser step')} in {plural(epoch, 'epoch')}, "
        f"loss {loss:.4g} in epoch {epoch}"
        + (f" (a guess: ln {steps.classes} = {guess:.3f})" if guess is not None else "")
    )
    if steps.diverged_at is not None:
        line.append(f"; {DIVERGED} at step {steps.diverged_at}", style="red")
    elif run_at_chance(record):
        line.append(f"; ended {AT_CHANCE}", style="yellow")
    return line


def _job_line(status: Any) -> str:
    host = f" (last on {status.extra['host']})" if status.extra.get("host") else ""
    starts = plural(int(status.extra.get("starts", 0)), "start")
    return f"job      {status.job_id or 'none'}; {starts}{host}; updated {status.updated}"


def run_detail_lines(
    status: Any,
    log: str,
    spec: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    tail: Sequence[str],
    reason: str | None = None,
    training: Text | None = None,
) -> list[Text | str]:
    """``omnibench status SUITE --run ID``: error, log, job, results, the whole spec, the log's last
    lines."""
    lines: list[Text | str] = []
    if status is not None and status.error:
        lines.append(Text("error    ") + Text(status.error, style="red"))
    if reason is not None:
        lines.append(Text("not done ") + Text(reason, style="magenta"))
    lines.append(f"log      {short_path(log)}")
    if status is not None:
        lines.append(_job_line(status))
    if spec.get("limit") is not None:
        lines.append(
            Text(
                f"limited  at most {spec['limit']} videos per class (a smoke run: not comparable "
                "with published numbers)",
                style="yellow",
            )
        )
    if training is not None:
        lines.append(training)
    if record is not None:
        lines.extend(_record_lines(spec, record))
    lines.append("spec")
    lines.extend(f"  {path} = {cell_text(value)}" for path, value in flatten(spec).items())
    if tail:
        lines.append(f"last {plural(len(tail), 'line')} of the log")
        lines.extend(f"  {line}" for line in tail)
    return lines
