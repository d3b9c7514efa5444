"""`omnibench status | cancel | ls runs`: what the run store holds, a suite's runs, one run in
detail.

Nothing here imports torch: these commands read ``spec.json``, ``status.json`` and ``record.json``.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from omnibench.cli import checks, run_groups
from omnibench.cli import run_tables as tables
from omnibench.cli.options import (
    DataRoot,
    JsonOut,
    Limit,
    Results,
    Settings,
    read_store,
    suite_settings,
)
from omnibench.cli.run_detail import run_detail_lines, training_line
from omnibench.cli.runs import ls_app
from omnibench.errors import CorruptFileError, OmniBenchError
from omnibench.execution.cancel import cancel_runs
from omnibench.execution.plan import plan_runs
from omnibench.registry import did_you_mean
from omnibench.store.run_files import TRAIN_STEPS_FILE
from omnibench.store.run_store import RunStore
from omnibench.store.runlog import linked_log
from omnibench.store.states import RunState
from omnibench.store.survey import judged_state, survey
from omnibench.store.train_steps import TrainSteps, UnreadableStepsError, read_train_steps
from omnibench.suite.files import has_definition, is_suite_path
from omnibench.suite.load import load_suite

app = typer.Typer()
console = Console(highlight=False)
LOG_TAIL = 10  # log lines the detail view shows


@app.command()
def status(
    suite: Annotated[
        str | None, typer.Argument(help="A suite name or file (default: every run in the store).")
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            "-r",
            metavar="RUN",
            help=(
                "One run in detail: its whole error, log tail, spec "
                "and results (a unique prefix of the id is enough)."
            ),
        ),
    ] = None,
    settings: Settings = None,
    limit: Limit = None,
    results: Results = None,
    data_root: DataRoot = None,
    as_json: JsonOut = False,
) -> None:
    """Each run's state (new / pending / running / dead / done / stale / failed / corrupt), Slurm \
job and top-1; below it, why a run failed, died or is corrupt, and who holds a running one."""
    store = read_store(results)
    if suite is None:
        if run is not None:
            raise OmniBenchError("--run needs the suite: omnibench status SUITE --run RUN")
        _show_store(store, None, as_json)
    elif run is not None:
        _show_run(store, stored_name(store, suite), run, as_json)
    elif suite in store.suites() and not has_definition(suite, store):
        _show_store(
            store, suite, as_json
        )  # runs of a suite with no file (omnibench eval's records)
    else:
        _show_suite(store, suite, suite_settings(settings, limit), as_json, data_root)


def stored_name(store: RunStore, suite: str) -> str:
    """The store folder of ``suite``: a name as it is, or the ``name:`` of a suite file."""
    if suite in store.suites() or not is_suite_path(suite):
        return suite
    return load_suite(suite).name


def _show_suite(
    store: RunStore, name: str, settings: Any, as_json: bool, data_root: Path | None = None
) -> None:
    loaded = load_suite(name, settings, store)
    plans = plan_runs(loaded.name, loaded.specs, store)
    if as_json:
        echo_json_list(
            tables.stored_run_row(store, loaded.name, p.run_id, *p.judged) for p in plans
        )
        return
    run_groups.print_runs(console, loaded, plans, store)
    known = {p.run_id for p in plans}
    extra = store.run_ids(loaded.name, besides=known)
    if extra:
        console.print(
            f"[dim]{tables.plural(len(extra), 'other stored run')} "
            f"of '{loaded.name}' (other --set / --limit "
            f"settings, or an older suite file): omnibench ls runs -s {loaded.name}[/]",
            soft_wrap=True,
        )
    if data_root is not None:
        checks.print_findings(checks.unfinished_data_findings(plans, data_root))


def _show_store(store: RunStore, suite: str | None, as_json: bool) -> None:
    rows = []
    for name in [suite] if suite is not None else store.suites():
        run_ids = store.run_ids(name)
        judged = survey(store, name, run_ids)
        rows += [tables.stored_run_row(store, name, run_id, *judged[run_id]) for run_id in run_ids]
    if as_json:
        echo_json_list(rows)
    elif not rows:
        console.print(f"no runs in {store.root}")
    else:
        folder = str(store.root / (suite or "<suite>"))
        title = tables.plural(len(rows), "run")
        if run_groups.grouped(len(rows)):
            tables.print_table(console, run_groups.store_table(rows, f"{title}, grouped"))
            notes = run_groups.capped_notes(rows, folder)
        else:
            tables.print_table(console, tables.store_table(rows, title))
            notes = tables.run_notes(rows, folder)
        console.print(
            tables.counts_line([r["state"] for r in rows]),
            f"  results: {store.root}",
            soft_wrap=True,
        )
        for line in notes:
            console.print(line, soft_wrap=True)


def echo_json_list(items: Iterable[Any]) -> None:
    """Print ``items`` as ``json.dumps(list(items), indent=2)`` does, one item at a time."""
    first = True
    for item in items:
        text = "\n".join(f"  {line}" for line in json.dumps(item, indent=2).splitlines())
        typer.echo(("[\n" if first else ",\n") + text, nl=False)
        first = False
    typer.echo("[]" if first else "\n]")


def resolve_run(store: RunStore, suite: str, prefix: str) -> str:
    """The run of ``suite`` whose id is ``prefix`` or starts with it (unique); a one-line error
    otherwise."""
    ids = [stored.run_id for stored in store.iter_runs(suite)]
    matches = [run_id for run_id in ids if run_id.startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise OmniBenchError(
            f"--run {prefix}: several runs of '{suite}' start with it: {', '.join(matches)}"
        )
    hint = did_you_mean(prefix, ids)
    raise OmniBenchError(
        f"--run {prefix}: no run of '{suite}' in "
        f"{store.root}{hint}; omnibench status {suite} lists them"
    )


def _show_run(store: RunStore, suite: str, prefix: str, as_json: bool) -> None:
    run_id = resolve_run(store, suite, prefix)
    state, run_status, reason = judged_state(store, suite, run_id)
    row = tables.stored_run_row(store, suite, run_id, state, run_status, reason)
    spec, record = _readable(lambda: store.read_spec(suite, run_id)), None
    if state != RunState.CORRUPT:
        record = store.read_record(suite, run_id)
    log = store.log_path(suite, run_id)
    if as_json:
        detail = {
            "suite": suite,
            "run_id": run_id,
            "state": state,
            "status": run_status.to_dict() if run_status else None,
            "reason": reason,
            "holder": row["holder"],
            "log": str(log),
            "spec": spec,
            "record": record,
        }
        typer.echo(json.dumps(detail, indent=2))
        return
    console.print(Text(f"{suite}/{run_id}  ", style="bold") + tables.state_text(state))
    training = training_line(_train_steps(store, suite, run_id), record)
    lines = run_detail_lines(run_status, str(log), spec, record, log_tail(log), reason, training)
    for line in [*lines, *([tables.held_note(row)] if row["holder"] else [])]:
        console.print(line, soft_wrap=True)


def _train_steps(store: RunStore, suite: str, run_id: str) -> TrainSteps | None:
    try:
        return read_train_steps(store.run_dir(suite, run_id) / TRAIN_STEPS_FILE)
    except UnreadableStepsError as err:
        console.print(f"[yellow]no training curve[/]: {err}", soft_wrap=True)
        return None


def _readable(read: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """What ``read`` returns, or {} for a missing or corrupt file (the run's state says which)."""
    try:
        return read() or {}
    except CorruptFileError:
        return {}


def log_tail(path: Path, count: int = LOG_TAIL) -> list[str]:
    """The last ``count`` lines of a run's log, never read through a symbolic link (a link planted
    in the store must not print a file from elsewhere)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            return [f"(not shown: {linked_log(path)})"]
        return []
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for line in handle.readlines()[-count:]]


@app.command()
def cancel(
    suite: Annotated[str, typer.Argument(help="The suite whose queued and running runs to stop.")],
    results: Results = None,
) -> None:
    """Stop a suite's queued and running runs (scancel, or SIGTERM to local processes) and mark \
them failed."""
    store = read_store(results)
    name = stored_name(store, suite)
    done = cancel_runs(store, name)
    if done.slurm:
        console.print(
            f"cancelled {tables.plural(len(done.slurm), 'run')} of "
            f"'{name}': {', '.join(job for _, job in done.slurm)}"
        )
    if done.stopped:
        console.print(
            f"stopped {tables.plural(len(done.stopped), 'run')} of '{name}': "
            f"{', '.join(sorted({process for _, process in done.stopped}))}",
            soft_wrap=True,
        )
    if done.dead:
        console.print(
            f"marked {tables.plural(len(done.dead), 'dead run')} failed (their process is gone): "
            f"{', '.join(done.dead)}",
            soft_wrap=True,
        )
    if done.gone:
        console.print(
            "no job in the Slurm queue for "
            f"{tables.plural(len(done.gone), 'run')} marked pending/running "
            "(jobs that ended without a status, or processes "
            f"on another host): {', '.join(done.gone)}",
            soft_wrap=True,
        )
    for run_id, holder in done.elsewhere:
        console.print(
            Text.assemble(
                ("not stopped", "yellow"),
                f": run {run_id} is held by {holder}, on another host: stop it there; "
                f"if that process is gone, omnibench unlock {name} --run {run_id}",
            ),
            soft_wrap=True,
        )
    if not (done.slurm or done.stopped or done.dead or done.gone or done.elsewhere):
        console.print(f"no queued or running runs recorded for suite '{name}' in {store.root}")
    if done.elsewhere:
        raise typer.Exit(1)


@ls_app.command("runs")
def ls_runs(
    suite: Annotated[
        str | None, typer.Option("--suite", "-s", metavar="SUITE", help="Only this suite's runs.")
    ] = None,
    results: Results = None,
    as_json: JsonOut = False,
) -> None:
    """Every run in the store with its state."""
    _show_store(read_store(results), suite, as_json)
