"""`omnibench rm SUITE [--run RUN | --failed | --stale]`: delete runs from the run store, after
asking.

Only run folders (and, when every run goes, the suite's folder) inside the store are removed;
queued or running runs are kept until they are cancelled.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from omnibench.cli.options import Results, RunPrefixes, StoredSuite, Yes, read_store
from omnibench.cli.run_tables import plural
from omnibench.cli.status import resolve_run, stored_name
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean
from omnibench.store.run_store import RunStore
from omnibench.store.states import ACTIVE, RunState
from omnibench.store.survey import run_state

app = typer.Typer()
console = Console(highlight=False)


@app.command("rm")
def remove(
    suite: StoredSuite,
    run: RunPrefixes = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only the failed runs.")] = False,
    stale: Annotated[
        bool,
        typer.Option(
            "--stale",
            help=(
                "Only the stale runs: their annotation files changed since they ran, or "
                "another model or protocol revision computed them."
            ),
        ),
    ] = False,
    yes: Yes = False,
    results: Results = None,
) -> None:
    """Delete a suite's runs from the run store (all, or those chosen); asks first. Queued or \
running
    runs are kept (omnibench cancel SUITE stops them); nothing outside the store is touched."""
    store = read_store(results)
    name = stored_name(store, suite)
    if name not in store.suites():
        hint = did_you_mean(name, store.suites())
        raise OmniBenchError(f"no runs of suite '{name}' in {store.root}{hint}")
    states = [
        state for state, wanted in ((RunState.FAILED, failed), (RunState.STALE, stale)) if wanted
    ]
    if run and states or len(states) > 1:
        raise OmniBenchError("rm takes one of --run, --failed and --stale")
    chosen, kept = _select(store, name, run or [], states[0] if states else None)
    if kept:
        console.print(
            f"kept {plural(len(kept), 'queued or running run')}: {', '.join(kept)} "
            f"(omnibench cancel {name} stops them)",
            soft_wrap=True,
        )
    if not chosen:
        console.print(f"nothing to remove from {store.root / name}")
        return
    _remove(store, name, chosen, yes, whole_suite=not run and not states and not kept)


def _remove(
    store: RunStore, suite: str, chosen: list[tuple[str, str]], yes: bool, whole_suite: bool
) -> None:
    """List the runs, ask (unless ``yes``), remove them (and the suite's folder when every run
    goes)."""
    listed = ", ".join(f"{run_id} ({state})" for run_id, state in chosen)
    console.print(f"to remove from {store.root / suite}: {listed}", soft_wrap=True)
    if not yes and not typer.confirm(
        f"Remove {plural(len(chosen), 'run')} of '{suite}'?", default=False
    ):
        raise typer.Exit(1)
    for run_id, _ in chosen:
        store.clear(suite, run_id)
    if whole_suite:
        store.remove_suite(suite)
    console.print(f"removed {plural(len(chosen), 'run')} of '{suite}'")


def _select(
    store: RunStore, suite: str, prefixes: list[str], only: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(run id, state) of the runs to remove (all, ``prefixes``, or those in state ``only``), and
    the active runs kept."""
    if prefixes:
        wanted = [resolve_run(store, suite, prefix) for prefix in prefixes]
    else:
        wanted = [stored.run_id for stored in store.iter_runs(suite)]
    states = {run_id: run_state(store, suite, run_id)[0] for run_id in dict.fromkeys(wanted)}
    active = [run_id for run_id, state in states.items() if state in ACTIVE]
    if prefixes and active:
        raise OmniBenchError(
            f"run {active[0]} of '{suite}' is {states[active[0]]}: omnibench cancel {suite} first"
        )
    chosen = [
        (run_id, state)
        for run_id, state in states.items()
        if state not in ACTIVE and only in (None, state)
    ]
    return chosen, active
