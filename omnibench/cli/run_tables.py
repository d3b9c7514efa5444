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
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from omnibench.errors import CorruptFileError
from omnibench.execution.plan import PlannedRun
from omnibench.process import hostname
from omnibench.report.labels import plural as plural  # the run commands' counts use it
from omnibench.store.acceptance import Skipped, skipped
from omnibench.store.chance import AT_CHANCE, DIVERGED, run_at_chance
from omnibench.store.index import Finished, headline
from omnibench.store.run_files import TRAIN_STEPS_FILE
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState
from omnibench.store.survey import run_holder
from omnibench.store.train_steps import UnreadableStepsError, read_train_steps
from omnibench.suite.load import Suite
from omnibench.suite.paths import flatten, leaf_value

STATE_STYLES: dict[str, str] = {
    RunState.DONE: "green",
    RunState.FAILED: "bold red",
    RunState.RUNNING: "yellow",
    RunState.PENDING: "cyan",
    RunState.NEW: "dim",
    RunState.STALE: "magenta",
    RunState.DEAD: "bold red",
    RunState.CORRUPT: "bold red",
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
    shown = ", ".join(f"{path}={cell_text(value)}" for path, value in settings.items())
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


def cell_text(value: Any) -> str:
    """A value as a table cell: ``–`` for none, lists as ``[a,b]``."""
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def top1(record: Mapping[str, Any] | None) -> str:
    """The run's headline top-1 (mean over splits where there are several), marked when the run
    ended at chance (:mod:`omnibench.store.chance`) and when it was limited."""
    return top1_text(*headline(record or {}), run_at_chance(record))


def top1_text(value: float | None, limit: int | None, at_chance: bool = False) -> str:
    """A headline top-1 (:func:`top1`) as shown; empty without one."""
    if value is None:
        return ""
    return (
        f"{value:.2f}"
        + (f" {AT_CHANCE}" if at_chance else "")
        + (f" (limit {limit})" if limit is not None else "")
    )


def diverged_text(store: RunStore, suite: str, run_id: str, state: str) -> str:
    """What the top-1 column shows for a run that did not finish: "diverged" for a failed one
    whose training loss stopped being finite (its ``train_steps.json``)."""
    if state not in (RunState.FAILED, RunState.DEAD):
        return ""
    try:
        steps = read_train_steps(store.run_dir(suite, run_id) / TRAIN_STEPS_FILE)
    except UnreadableStepsError:
        return ""
    return DIVERGED if steps is not None and steps.diverged_at is not None else ""


WHOLE = ("suite", "run", "state", "action", "job", "top-1")  # what users act on: never cut


def _done_facts(
    store: RunStore, suite: str, run_id: str, state: str, finished: Finished | None
) -> tuple[str, Skipped]:
    """A run's top-1 text (:func:`top1` when done, :func:`diverged_text` else) and skipped videos
    (``finished``: what the store's index read from its record; else the record is read)."""
    if state != RunState.DONE:
        return diverged_text(store, suite, run_id, state), Skipped()
    if finished is not None:
        top = top1_text(finished.top1, finished.limit, finished.at_chance)
        return top, Skipped(**finished.skipped)
    record = store.read_record(suite, run_id)
    return top1(record), skipped(record)


def run_table(title: str, headers: Sequence[str]) -> Table:
    """A compact table (a rule under the header, no side borders). Where it is too wide, only the
    descriptive columns (the suite's axes, protocol, dataset, model, skipped) fold; the columns in
    :data:`WHOLE` are never cut (see :func:`print_table`)."""
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
        whole = name in WHOLE
        table.add_column(name, no_wrap=whole, overflow="ellipsis" if whole else "fold")
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` without cutting a :data:`WHOLE` column. Too wide for the console, its
    columns close up to one space apart; still too wide, at a terminal the descriptive columns
    fold, while in a file or pipe (Slurm, nohup, CI: nothing reflows there) each run stays on one
    line, as wide as the table needs."""
    if _natural_width(console, table) > console.width:
        table.padding = (0, 0, 0, 0)  # the rule between columns still leaves one space
    width = None if console.is_terminal else max(console.width, _natural_width(console, table))
    console.print(table, width=width)


def _natural_width(console: Console, table: Table) -> int:
    """The width ``table`` takes when nothing folds."""
    return Measurement.get(console, console.options.update(max_width=10_000), table).maximum


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
            plan.run_id,
            *[cell_text(labels.get(c)) for c in columns],
            state_text(plan.state),
            action,
        )
    return table


def summary_table(suite: Suite, plans: Sequence[PlannedRun], store: RunStore, title: str) -> Table:
    """Each run's state, Slurm job (when any has one), top-1 and, when any run skipped broken
    videos, how many of how many; errors and logs go below (:func:`run_notes`)."""
    columns = label_columns(suite, plans)
    done = {p.run_id: _done_facts(store, suite.name, p.run_id, p.state, p.finished) for p in plans}
    skips = {run_id: counts.text() for run_id, (_, counts) in done.items()}
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
            *[cell_text(labels.get(c)) for c in columns],
            state_text(plan.state),
            *job,
            done[plan.run_id][0],
            *skip,
        )
    return table


NOTED = (RunState.FAILED, RunState.STALE, RunState.DEAD, RunState.CORRUPT)  # a note says why


def plan_notes(
    store: RunStore, suite: Suite, plans: Sequence[PlannedRun], limit: int | None = None
) -> list[Text]:
    """Below a ``--dry-run`` table: why each dead or corrupt run is so, who holds each held run
    (``limit``: of the first so many, then how many more there are)."""
    flagged = [
        p for p in plans if p.state in (RunState.DEAD, RunState.CORRUPT) or p.action == "held"
    ]
    shown = flagged if limit is None else flagged[:limit]
    rows = [stored_run_row(store, suite.name, p.run_id, p.state, p.status, p.reason) for p in shown]
    lines = run_notes(rows, str(store.root / suite.name))[:-1] if rows else []
    if len(flagged) > len(shown):
        more = f"... and {len(flagged) - len(shown)} more dead, corrupt or held runs"
        lines.append(Text(f"{more} (every run: omnibench status SUITE --json)", style="dim"))
    return lines


def run_notes(rows: Sequence[Mapping[str, Any]], folder: str) -> list[Text]:
    """Below a table: each failed, stale, dead or corrupt run's whole error (what changed, what is
    wrong where) and log path, who holds each held run, then where every run's log is."""
    lines = []
    for row in rows:
        if row["state"] in NOTED:
            style = STATE_STYLES[row["state"]].removeprefix("bold ")
            line = Text(f"{row['run_id']} {row['state']}: ", style=f"bold {style}")
            line.append(str(row["error"] or "no error recorded"), style=style)
            lines.append(line)
            lines.append(Text(f"  log: {short_path(row['log'])}"))
        elif row.get("holder"):
            lines.append(held_note(row))
    lines.append(
        Text(
            f"logs: {folder}/<run>/log.txt; one run in detail: omnibench status SUITE --run RUN",
            style="dim",
        )
    )
    return lines


def held_note(row: Mapping[str, Any]) -> Text:
    """Who holds a run, and what to do when it is gone (a process on another host is not seen from
    here)."""
    text = Text(f"{row['run_id']} held by {row['holder']}", style="yellow")
    hint = (
        f"omnibench cancel {row['suite']} stops it"
        if row.get("holder_here")
        else f"if that process is gone: omnibench unlock {row['suite']} --run {row['run_id']}"
    )
    return text.append(f"; {hint}", style="dim")


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
    store: RunStore,
    suite: str,
    run_id: str,
    state: str,
    status: Any,
    reason: str | None = None,
    finished: Finished | None = None,
) -> dict[str, Any]:
    """A plain dict describing one stored run (for tables and ``--json``); ``reason``: why a record
    does not count; ``finished``: what its record says, when the store's index told it."""
    top, counts = _done_facts(store, suite, run_id, state, finished)
    protocol, dataset, model = _spec_cells(store, suite, run_id, finished)
    holder = run_holder(store, suite, run_id) if state != RunState.DONE else None
    return {
        "suite": suite,
        "run_id": run_id,
        "protocol": protocol,
        "dataset": dataset,
        "model": model,
        "state": state,
        "job_id": status.job_id if status else None,
        "updated": status.updated if status else None,
        "error": reason or (status.error if status else None),
        "log": str(store.log_path(suite, run_id)),
        "top1": top,
        "skipped": dict(finished.skipped) if finished else dataclasses.asdict(counts),
        "holder": str(holder) if holder is not None else None,
        "holder_here": holder is not None and holder.process.host == hostname(),
    }


def _spec_cells(
    store: RunStore, suite: str, run_id: str, finished: Finished | None
) -> tuple[str, str, str]:
    """A run's protocol, dataset and model as cells: from the store's index when it told them,
    else from ``spec.json`` (none from a corrupt one: the run's state says so)."""
    if finished is not None:
        spec = {"protocol": finished.spec["protocol"], "dataset": finished.spec["dataset"]}
        model = finished.spec["model"]
    else:
        try:
            spec = flatten(store.read_spec(suite, run_id) or {})
        except CorruptFileError:
            spec = {}
        model = leaf_value(spec, "model.name")
    return cell_text(spec.get("protocol")), cell_text(spec.get("dataset")), cell_text(model)
