"""Tables of many runs. Above :data:`MAX_RUN_ROWS` runs, ``run``, ``status``, ``--dry-run`` and
``ls runs`` show one row per cell of the suite's table (the values of its ``rows`` and
``columns`` paths; per suite, protocol, dataset and model in ``ls runs``) with how many of its runs
are in each state, or would get each action, and the mean top-1 of the done ones. Failed and
stale runs are still named below (the first :data:`MAX_NOTES`); ``--json`` lists every run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from omnibench.cli import run_tables as tables
from omnibench.execution.plan import PlannedRun
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState
from omnibench.suite.load import Suite

MAX_RUN_ROWS = 100  # more runs than this are shown grouped
MAX_NOTES = 20  # failed or stale runs named below a grouped table
STORE_KEYS = ("suite", "protocol", "dataset", "model")  # how ``ls runs`` groups


def grouped(count: int) -> bool:
    """Whether ``count`` runs are shown grouped."""
    return count > MAX_RUN_ROWS


def cell_values(suite: Suite, plans: Sequence[PlannedRun]) -> dict[str, list[Any]]:
    """Each run's values of the suite table's row and column paths that differ among ``plans``."""
    paths = [p for p in (*suite.table.rows, *suite.table.columns) if not p.startswith("eval.")]
    values = {path: [p.spec.value_at(path) for p in plans] for path in paths}
    return {path: found for path, found in values.items() if len(set(map(repr, found))) > 1}


def _counts(values: Iterable[str], order: Sequence[str]) -> Text:
    """``2498 done · 2 failed``, in ``order`` and state colours."""
    counts = Counter(values)
    text = Text()
    for value in [*order, *sorted(set(counts) - set(order))]:
        if counts.get(value):
            text.append(" · " if text else "")
            text.append(f"{counts[value]} {value}", style=tables.STATE_STYLES.get(value, ""))
    return text


def _mean(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else ""


def _groups(
    items: Sequence[Any], key: Callable[[Any], tuple[Any, ...]]
) -> dict[tuple[Any, ...], list[Any]]:
    found: dict[tuple[Any, ...], list[Any]] = {}
    for item in items:
        found.setdefault(key(item), []).append(item)
    return found


def _group_table(title: str, keys: Sequence[str], what: str, note: bool = False) -> Table:
    return tables.run_table(title, [*keys, "runs", what, "mean top-1", *(["note"] if note else [])])


def _top1(plan: PlannedRun) -> float | None:
    return plan.finished.top1 if plan.state == RunState.DONE and plan.finished else None


Group = tuple[list[Any], list[PlannedRun]]  # a row's cells and its runs


def _cell_groups(
    suite: Suite,
    plans: Sequence[PlannedRun],
    value: Callable[[PlannedRun], str],
    order: Sequence[str],
) -> tuple[list[str], list[Group]]:
    """The column titles of the cell paths, and each cell's row: its labels, runs, how many of them
    have each ``value`` and their mean top-1."""
    values = cell_values(suite, plans)
    rows = []
    cells = _groups(range(len(plans)), lambda i: tuple(repr(f[i]) for f in values.values()))
    for indices in cells.values():
        members = [plans[i] for i in indices]
        labels = [tables.cell_text(found[indices[0]]) for found in values.values()]
        top1s = [t for p in members if (t := _top1(p)) is not None]
        counts = _counts((value(p) for p in members), order)
        rows.append(([*labels, str(len(members)), counts, _mean(top1s)], members))
    return [tables.column_title(p) for p in values], rows


def summary_table(suite: Suite, plans: Sequence[PlannedRun], title: str) -> Table:
    """One row per table cell: its runs' states and the mean top-1 of the done ones."""
    headers, rows = _cell_groups(suite, plans, lambda p: str(p.state), list(RunState))
    table = _group_table(title, headers, "states")
    for cells, _ in rows:
        table.add_row(*cells)
    return table


def plan_table(
    suite: Suite, plans: Sequence[PlannedRun], title: str, marks: Mapping[str, str]
) -> Table:
    """``--dry-run``: one row per table cell and what would happen to its runs (``marks``: run id
    -> a note; a cell shows its runs' first)."""
    headers, rows = _cell_groups(suite, plans, lambda p: p.action_text, [])
    notes = [next((marks[p.run_id] for p in runs if marks.get(p.run_id)), "") for _, runs in rows]
    table = _group_table(title, headers, "actions", note=any(notes))
    for (cells, _), note in zip(rows, notes):
        table.add_row(*cells, *([Text(note, style="yellow")] if any(notes) else []))
    return table


def store_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """``ls runs`` of many runs: one row per suite, protocol, dataset and model."""
    table = _group_table(title, list(STORE_KEYS), "states")
    for key, members in _groups(rows, lambda r: tuple(r[k] for k in STORE_KEYS)).items():
        top1s = [float(r["top1"].split()[0]) for r in members if r["top1"]]
        counts = _counts((r["state"] for r in members), list(RunState))
        table.add_row(*key, str(len(members)), counts, _mean(top1s))
    return table


def capped_notes(rows: Sequence[Mapping[str, Any]], folder: str) -> list[Text]:
    """:func:`~omnibench.cli.run_tables.run_notes` of the first :data:`MAX_NOTES` runs that have a
    note (failed, stale, dead, corrupt or held), and how many more there are."""
    flagged = [r for r in rows if r["state"] in tables.NOTED or r.get("holder")]
    notes = tables.run_notes(flagged[:MAX_NOTES], folder)
    if len(flagged) > MAX_NOTES:
        more = Text(
            f"... and {len(flagged) - MAX_NOTES} more failed, stale, dead, corrupt or held runs "
            "(every run: --json)",
            style="dim",
        )
        notes.insert(-1, more)
    return notes


def print_runs(
    console: Console, suite: Suite, plans: Sequence[PlannedRun], store: RunStore
) -> None:
    """The runs' table, their counts and folder, the suite's settings and the notes of the failed,
    stale, dead, corrupt and held runs."""
    title = f"{suite.name}: {tables.plural(len(plans), 'run')}"
    folder = store.root / suite.name
    flagged = [p for p in plans if p.state in tables.NOTED or p.holder is not None]
    rows = [
        tables.stored_run_row(store, suite.name, p.run_id, p.state, p.status, p.reason, p.finished)
        for p in flagged
    ]
    if grouped(len(plans)):
        tables.print_table(console, summary_table(suite, plans, f"{title}, by table cell"))
        notes = capped_notes(rows, str(folder))
    else:
        tables.print_table(console, tables.summary_table(suite, plans, store, title))
        notes = tables.run_notes(rows, str(folder))
    console.print(
        tables.counts_line([p.state for p in plans]), f"  results: {folder}", soft_wrap=True
    )
    for line in [*tables.settings_lines(suite.settings), *notes]:
        console.print(line, soft_wrap=True)
