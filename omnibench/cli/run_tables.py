"""Rich tables for ``omnibench run`` / ``status`` / ``ls``: one row per run."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from omnibench.plan import ACTION_TEXT, PlannedRun
from omnibench.store import RunStore
from omnibench.suite import Suite
from omnibench.suite_paths import flatten, leaf_value

STATE_STYLES = {"done": "green", "failed": "bold red", "running": "yellow", "pending": "cyan", "new": "dim"}
STATE_ORDER = ("new", "pending", "running", "done", "failed")


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


def label_columns(suite: Suite, plans: Sequence[PlannedRun]) -> list[str]:
    """The suite's axes that still vary among ``plans`` (all of them for a single run)."""
    if len(plans) <= 1:
        return list(suite.axes)
    values = [suite.labels(p.spec) for p in plans]
    return [axis for axis in suite.axes if len({repr(v.get(axis)) for v in values}) > 1]


def column_title(path: str) -> str:
    """A short header for a spec path: ``protocol_options.shots`` -> shots, ``model.name`` -> model."""
    parts = path.split(".")
    return parts[-2] if parts[-1] == "name" and len(parts) > 1 else parts[-1]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def top1(record: Mapping[str, Any] | None) -> str:
    """The run's headline top-1 (mean over splits where there are several)."""
    metrics = (record or {}).get("metrics") or {}
    value = metrics.get("top1_mean", metrics.get("top1"))
    return f"{value:.2f}" if isinstance(value, (int, float)) else ""


def plan_table(suite: Suite, plans: Sequence[PlannedRun], title: str) -> Table:
    """What ``--dry-run`` shows: each run, its state and what would happen to it."""
    columns = label_columns(suite, plans)
    table = Table(title=title, title_justify="left")
    for name in ["run", *map(column_title, columns), "state", "action"]:
        table.add_column(name)
    for plan in plans:
        labels = suite.labels(plan.spec)
        action = Text(ACTION_TEXT[plan.action], style="bold" if plan.executes else "dim")
        table.add_row(plan.run_id, *[_cell(labels.get(c)) for c in columns], state_text(plan.state), action)
    return table


def summary_table(suite: Suite, plans: Sequence[PlannedRun], store: RunStore, title: str) -> Table:
    """Each run's state, Slurm job (when any has one), top-1 and its log (or why it failed)."""
    columns = label_columns(suite, plans)
    with_jobs = any(p.status is not None and p.status.job_id for p in plans)
    table = Table(title=title, title_justify="left")
    headers = ["run", *map(column_title, columns), "state", *(["job"] if with_jobs else []), "top-1", "log / error"]
    for name in headers:
        table.add_column(name, overflow="fold")
    for plan in plans:
        labels, status = suite.labels(plan.spec), plan.status
        record = store.read_record(suite.name, plan.run_id) if plan.state == "done" else None
        job = [status.job_id if status and status.job_id else ""] if with_jobs else []
        cells = [plan.run_id, *[_cell(labels.get(c)) for c in columns], state_text(plan.state), *job, top1(record)]
        table.add_row(*cells, _log_cell(suite, plan, store))
    return table


def _log_cell(suite: Suite, plan: PlannedRun, store: RunStore) -> Text:
    """The run's log path, preceded by its error (red) when it failed."""
    status = plan.status
    log = short_path(status.log if status and status.log else store.log_path(suite.name, plan.run_id))
    if plan.state != "failed" or status is None or not status.error:
        return Text(log)
    text = Text(f"{status.error}\n{log}")
    text.stylize("red", 0, len(status.error))
    return text


def counts_line(states: Sequence[str]) -> Text:
    """``3 done · 1 failed · 2 new`` in state colours."""
    counts = Counter(states)
    text = Text()
    for state in STATE_ORDER:
        if counts.get(state):
            if text:
                text.append(" · ")
            text.append(f"{counts[state]} {state}", style=STATE_STYLES[state])
    return text


def store_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Runs found in the store (no suite file needed): suite, id, what it is, state, job, log."""
    table = Table(title=title, title_justify="left")
    for name in ["suite", "run", "protocol", "dataset", "model", "state", "job", "top-1", "log / error"]:
        table.add_column(name, overflow="fold")
    for row in rows:
        detail = row["error"] if row["state"] == "failed" and row["error"] else short_path(row["log"])
        table.add_row(
            row["suite"], row["run_id"], row["protocol"], row["dataset"], row["model"],
            state_text(row["state"]), row["job_id"] or "", row["top1"], Text(detail, style="red" if row["error"] else ""),
        )
    return table


def stored_run_row(store: RunStore, suite: str, run_id: str, state: str, status: Any) -> dict[str, Any]:
    """A plain dict describing one stored run (for tables and ``--json``)."""
    spec = flatten(store.read_spec(suite, run_id) or {})
    record = store.read_record(suite, run_id) if state == "done" else None
    return {
        "suite": suite,
        "run_id": run_id,
        "protocol": _cell(spec.get("protocol")),
        "dataset": _cell(spec.get("dataset")),
        "model": _cell(leaf_value(spec, "model.name")),
        "state": state,
        "job_id": status.job_id if status else None,
        "updated": status.updated if status else None,
        "error": status.error if status else None,
        "log": status.log if status and status.log else str(store.log_path(suite, run_id)),
        "top1": top1(record),
    }
