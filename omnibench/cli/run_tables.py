"""Rich tables for ``omnibench run`` / ``status`` / ``ls``: one row per run."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from omnibench.config.suite import Suite
from omnibench.config.suite_paths import flatten, leaf_value
from omnibench.execution.acceptance import Skipped, skipped
from omnibench.execution.plan import PlannedRun
from omnibench.execution.run_files import TRAIN_STEPS_FILE
from omnibench.execution.states import RunState
from omnibench.execution.store import RunStore
from omnibench.execution.train_steps import TrainSteps, UnreadableStepsError, read_train_steps
from omnibench.report.chance import AT_CHANCE, DIVERGED, chance_loss, run_at_chance
from omnibench.report.labels import plural

STATE_STYLES: dict[str, str] = {
    RunState.DONE: "green",
    RunState.FAILED: "bold red",
    RunState.RUNNING: "yellow",
    RunState.PENDING: "cyan",
    RunState.NEW: "dim",
    RunState.STALE: "magenta",
    RunState.DEAD: "bold red",
}


def state_text(state: str) -> Text:
    """A run state, coloured."""
    return Text(state, style=STATE_STYLES.get(state, ""))


def short_path(path: str | os.PathLike[str] | None) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def settings_lines(settings: Mapping[str, Any]) -> list[str]:
    """What ``--set`` / ``--limit`` changed in every run, for ``--dry-run`` and the summary."""
    if not settings:
        return []
    shown = ", ".join(f"{path}={_cell(value)}" for path, value in settings.items())
    lines = [f"set in every run (part of its spec and id): {shown}"]
    if settings.get("limit") is not None:
        lines.append(
            f"limited: at most {settings['limit']} videos per class of every split a run reads; "
            "smoke runs, never compared with published numbers"
        )
    return lines


def label_columns(suite: Suite, plans: Sequence[PlannedRun]) -> list[str]:
    """The suite's axes that still vary among ``plans`` (all of them for a single run)."""
    if len(plans) <= 1:
        return list(suite.axes)
    values = [suite.labels(p.spec) for p in plans]
    return [axis for axis in suite.axes if len({repr(v.get(axis)) for v in values}) > 1]


def column_title(path: str) -> str:
    """A short header for a spec path: ``protocol_options.shots`` -> shots, ``model.name`` ->
    model."""
    parts = path.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def top1(record: Mapping[str, Any] | None) -> str:
    """The run's headline top-1 (mean over splits where there are several), marked when the run
    ended at chance (:mod:`omnibench.report.chance`) and when it was limited."""
    metrics = (record or {}).get("metrics") or {}
    value = metrics.get("top1_mean", metrics.get("top1"))
    if not isinstance(value, (int, float)):
        return ""
    limit = ((record or {}).get("spec") or {}).get("limit")
    return (
        f"{value:.2f}"
        + (f" {AT_CHANCE}" if run_at_chance(record) else "")
        + (f" (limit {limit})" if limit is not None else "")
    )


def result_text(store: RunStore, suite: str, run_id: str, state: str, record: Any) -> str:
    """What the top-1 column shows: :func:`top1` of a finished run; "diverged" for a failed one
    whose training loss stopped being finite (its ``train_steps.json``)."""
    if record is not None:
        return top1(record)
    if state not in (RunState.FAILED, RunState.DEAD):
        return ""
    try:
        steps = read_train_steps(store.run_dir(suite, run_id) / TRAIN_STEPS_FILE)
    except UnreadableStepsError:
        return ""
    return DIVERGED if steps is not None and steps.diverged_at is not None else ""


def run_table(title: str, headers: Sequence[str]) -> Table:
    """A compact table (a rule under the header, no side borders) that fits 80 columns; cells never
    fold."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for name in headers:
        table.add_column(
            name, no_wrap=True, overflow="ellipsis", min_width=12 if name == "run" else None
        )
    return table


def plan_table(
    suite: Suite, plans: Sequence[PlannedRun], title: str, marks: Mapping[str, str] | None = None
) -> Table:
    """What ``--dry-run`` shows: each run, its state and what would happen to it (``marks``: run id
    -> a note)."""
    columns = label_columns(suite, plans)
    table = run_table(title, ["run", *map(column_title, columns), "state", "action"])
    for plan in plans:
        labels = suite.labels(plan.spec)
        action = Text(plan.action_text, style="bold" if plan.executes else "dim")
        if marks is not None and marks.get(plan.run_id):
            action.append(f"; {marks[plan.run_id]}", style="yellow")
        table.add_row(
            plan.run_id, *[_cell(labels.get(c)) for c in columns], state_text(plan.state), action
        )
    return table


def summary_table(suite: Suite, plans: Sequence[PlannedRun], store: RunStore, title: str) -> Table:
    """Each run's state, Slurm job (when any has one), top-1 and, when any run skipped broken
    videos, how many of how many; errors and logs go below (:func:`run_notes`)."""
    columns = label_columns(suite, plans)
    records = {
        p.run_id: store.read_record(suite.name, p.run_id) if p.state == RunState.DONE else None
        for p in plans
    }
    skips = {run_id: skipped(record).text() for run_id, record in records.items()}
    with_jobs = any(p.status is not None and p.status.job_id for p in plans)
    with_skips = any(skips.values())
    table = run_table(
        title,
        [
            "run",
            *map(column_title, columns),
            "state",
            *(["job"] if with_jobs else []),
            "top-1",
            *(["skipped"] if with_skips else []),
        ],
    )
    for plan in plans:
        labels, status = suite.labels(plan.spec), plan.status
        job = [status.job_id if status and status.job_id else ""] if with_jobs else []
        skip = [Text(skips[plan.run_id], style="yellow")] if with_skips else []
        table.add_row(
            plan.run_id,
            *[_cell(labels.get(c)) for c in columns],
            state_text(plan.state),
            *job,
            result_text(store, suite.name, plan.run_id, plan.state, records[plan.run_id]),
            *skip,
        )
    return table


def run_notes(rows: Sequence[Mapping[str, Any]], folder: str) -> list[Text]:
    """Below a table: each failed or stale run's whole error (or what changed) and log path, then
    where every run's log is."""
    lines = []
    for row in rows:
        if row["state"] in (RunState.FAILED, RunState.STALE):
            style = STATE_STYLES[row["state"]].removeprefix("bold ")
            line = Text(f"{row['run_id']} {row['state']}: ", style=f"bold {style}")
            line.append(str(row["error"] or "no error recorded"), style=style)
            lines.append(line)
            lines.append(Text(f"  log: {short_path(row['log'])}"))
    lines.append(
        Text(
            f"logs: {folder}/<run>/log.txt; one run in detail: omnibench status SUITE --run RUN",
            style="dim",
        )
    )
    return lines


def counts_line(states: Sequence[str]) -> Text:
    """``3 done · 1 failed · 2 new`` in state colours."""
    counts = Counter(states)
    text = Text()
    for state in RunState:
        if counts.get(state):
            if text:
                text.append(" · ")
            text.append(f"{counts[state]} {state}", style=STATE_STYLES[state])
    return text


def store_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Runs found in the store (no suite file needed): suite, id, what it is, state, job, top-1,
    skipped videos."""
    with_jobs = any(row["job_id"] for row in rows)
    with_skips = any(skipped_text(row) for row in rows)
    headers = [
        "suite",
        "run",
        "protocol",
        "dataset",
        "model",
        "state",
        *(["job"] if with_jobs else []),
        "top-1",
        *(["skipped"] if with_skips else []),
    ]
    table = run_table(title, headers)
    for row in rows:
        job = [row["job_id"] or ""] if with_jobs else []
        skip = [Text(skipped_text(row), style="yellow")] if with_skips else []
        table.add_row(
            row["suite"],
            row["run_id"],
            row["protocol"],
            row["dataset"],
            row["model"],
            state_text(row["state"]),
            *job,
            row["top1"],
            *skip,
        )
    return table


def skipped_text(row: Mapping[str, Any]) -> str:
    """A :func:`stored_run_row`'s skipped videos as ``"2/16 eval"`` (empty when none)."""
    return Skipped(**(row.get("skipped") or {})).text()


def stored_run_row(
    store: RunStore, suite: str, run_id: str, state: str, status: Any, reason: str | None = None
) -> dict[str, Any]:
    """A plain dict describing one stored run (for tables and ``--json``); ``reason``: why a record
    does not count."""
    spec = flatten(store.read_spec(suite, run_id) or {})
    record = store.read_record(suite, run_id) if state == RunState.DONE else None
    return {
        "suite": suite,
        "run_id": run_id,
        "protocol": _cell(spec.get("protocol")),
        "dataset": _cell(spec.get("dataset")),
        "model": _cell(leaf_value(spec, "model.name")),
        "state": state,
        "job_id": status.job_id if status else None,
        "updated": status.updated if status else None,
        "error": reason or (status.error if status else None),
        "log": status.log if status and status.log else str(store.log_path(suite, run_id)),
        "top1": result_text(store, suite, run_id, state, record),
        "skipped": dataclasses.asdict(skipped(record)),
    }


def _metrics_text(metrics: Mapping[str, Any]) -> str:
    names = {"top1": "top-1", "top5": "top-5", "mean_class": "mean-class", "top1_std": "top-1 std"}
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
    lines.extend(f"  {path} = {_cell(value)}" for path, value in flatten(spec).items())
    if tail:
        lines.append(f"last {plural(len(tail), 'line')} of the log")
        lines.extend(f"  {line}" for line in tail)
    return lines


def print_runs(
    console: Console,
    suite: Suite,
    plans: Sequence[PlannedRun],
    store: RunStore,
    rows: Sequence[dict],
) -> None:
    """The runs' table, their counts and folder, the suite's settings and the runs' notes."""
    title = f"{suite.name}: {plural(len(plans), 'run')}"
    console.print(summary_table(suite, plans, store, title))
    folder = store.root / suite.name
    console.print(counts_line([p.state for p in plans]), f"  results: {folder}", soft_wrap=True)
    for line in [*settings_lines(suite.settings), *run_notes(rows, str(folder))]:
        console.print(line, soft_wrap=True)
