"""`omnibench status | cancel | ls runs`: what the run store holds, a suite's runs, one run in
detail.

Nothing here imports torch: these commands read ``spec.json``, ``status.json`` and ``record.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from omnibench.cli import run_tables as tables
from omnibench.cli.options import JsonOut, Limit, Results, Settings, suite_settings
from omnibench.cli.runs import ls_app
from omnibench.errors import OmniBenchError
from omnibench.execution.plan import cancel_runs, find_suite, judged_state, plan_runs
from omnibench.execution.run_files import TRAIN_STEPS_FILE
from omnibench.execution.store import RunStore
from omnibench.execution.train_steps import TrainSteps, UnreadableStepsError, read_train_steps
from omnibench.registry import did_you_mean

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
    as_json: JsonOut = False,
) -> None:
    """Each run's state (new / pending / running / done / stale / failed), Slurm job and top-1; \
failures below the table."""
    store = RunStore(results)
    if suite is None:
        if run is not None:
            raise OmniBenchError("--run needs the suite: omnibench status SUITE --run RUN")
        _show_store(store, None, as_json)
    elif run is not None:
        _show_run(store, stored_name(store, suite), run, as_json)
    elif suite in store.suites() and not _has_definition(suite, store):
        _show_store(
            store, suite, as_json
        )  # runs of a suite with no file (omnibench eval's records)
    else:
        _show_suite(store, suite, suite_settings(settings, limit), as_json)


def _has_definition(name: str, store: RunStore) -> bool:
    from omnibench.config.suite import suite_files  # noqa: PLC0415

    return name in suite_files() or store.suite_source(name) is not None


def stored_name(store: RunStore, suite: str) -> str:
    """The store folder of ``suite``: a name as it is, or the ``name:`` of a suite file."""
    if suite in store.suites() or not (suite.endswith((".yaml", ".yml")) or Path(suite).is_file()):
        return suite
    from omnibench.config.suite import load_suite  # noqa: PLC0415

    return load_suite(suite).name


def _show_suite(store: RunStore, name: str, settings: Any, as_json: bool) -> None:
    loaded = find_suite(name, store, settings)
    plans = plan_runs(loaded.name, loaded.specs, store)
    rows = [
        tables.stored_run_row(store, loaded.name, p.run_id, p.state, p.status, p.reason)
        for p in plans
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    tables.print_runs(console, loaded, plans, store, rows)
    known = {p.run_id for p in plans}
    extra = [run.run_id for run in store.iter_runs(loaded.name) if run.run_id not in known]
    if extra:
        console.print(
            f"[dim]{tables.plural(len(extra), 'other stored run')} "
            f"of '{loaded.name}' (other --set / --limit "
            f"settings, or an older suite file): omnibench ls runs -s {loaded.name}[/]",
            soft_wrap=True,
        )


def _show_store(store: RunStore, suite: str | None, as_json: bool) -> None:
    rows = []
    for stored in store.iter_runs(suite):
        rows.append(
            tables.stored_run_row(
                store,
                stored.suite,
                stored.run_id,
                *judged_state(store, stored.suite, stored.run_id),
            )
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not rows:
        console.print(f"no runs in {store.root}")
    else:
        console.print(tables.store_table(rows, tables.plural(len(rows), "run")))
        console.print(
            tables.counts_line([r["state"] for r in rows]),
            f"  results: {store.root}",
            soft_wrap=True,
        )
        for line in tables.run_notes(rows, str(store.root / (suite or "<suite>"))):
            console.print(line, soft_wrap=True)


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
    spec = store.read_spec(suite, run_id) or {}
    record = store.read_record(suite, run_id)
    log = run_status.log if run_status and run_status.log else str(store.log_path(suite, run_id))
    if as_json:
        detail = {
            "suite": suite,
            "run_id": run_id,
            "state": state,
            "status": run_status.to_dict() if run_status else None,
            "reason": reason,
            "log": log,
            "spec": spec,
            "record": record,
        }
        typer.echo(json.dumps(detail, indent=2))
        return
    console.print(Text(f"{suite}/{run_id}  ", style="bold") + tables.state_text(state))
    training = tables.training_line(_train_steps(store, suite, run_id), record)
    for line in tables.run_detail_lines(
        run_status, log, spec, record, _log_tail(log), reason, training
    ):
        console.print(line, soft_wrap=True)


def _train_steps(store: RunStore, suite: str, run_id: str) -> TrainSteps | None:
    try:
        return read_train_steps(store.run_dir(suite, run_id) / TRAIN_STEPS_FILE)
    except UnreadableStepsError as err:
        console.print(f"[yellow]no training curve[/]: {err}", soft_wrap=True)
        return None


def _log_tail(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in handle.readlines()[-LOG_TAIL:]]
    except OSError:
        return []


@app.command()
def cancel(
    suite: Annotated[str, typer.Argument(help="The suite whose queued and running runs to stop.")],
    results: Results = None,
) -> None:
    """Stop a suite's queued and running runs (scancel, or SIGTERM to local processes) and mark \
them failed."""
    store = RunStore(results)
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
    if not (done.slurm or done.stopped or done.dead or done.gone):
        console.print(f"no queued or running runs recorded for suite '{name}' in {store.root}")


@ls_app.command("runs")
def ls_runs(
    suite: Annotated[
        str | None, typer.Option("--suite", "-s", metavar="SUITE", help="Only this suite's runs.")
    ] = None,
    results: Results = None,
    as_json: JsonOut = False,
) -> None:
    """Every run in the store with its state."""
    _show_store(RunStore(results), suite, as_json)
