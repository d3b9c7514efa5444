"""`omnibench unlock SUITE [--run RUN]`: take over the claims of runs whose holder is gone.

A run's claim (``lock.json``) names the process executing it. omnibench takes a claim over by
itself only when its holder is provably gone (on this host, or a Slurm job that left the queue); a
process on another host (a colleague's node, a crashed node) cannot be seen from here. Once the
user knows it is gone, ``unlock`` removes the claim and marks the run failed, so ``omnibench run``
resumes it from its checkpoint. A holder that still runs here is never unlocked (``cancel`` stops
it).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

from omnibench.cli.options import Results, RunPrefixes, StoredSuite, Yes, read_store
from omnibench.cli.run_tables import plural
from omnibench.cli.status import resolve_run, stored_name
from omnibench.errors import OmniBenchError
from omnibench.execution.cancel import locks, unlock

app = typer.Typer()
console = Console(highlight=False)


@app.command("unlock")
def unlock_runs(
    suite: StoredSuite,
    run: RunPrefixes = None,
    yes: Yes = False,
    results: Results = None,
) -> None:
    """Take over the locks of runs whose holder is gone (e.g. a process on a crashed node); asks \
first. The runs become failed and `omnibench run` resumes them."""
    store = read_store(results)
    name = stored_name(store, suite)
    if name not in store.suites():
        raise OmniBenchError(f"no runs of suite '{name}' in {store.root}")
    chosen = (
        [resolve_run(store, name, prefix) for prefix in run]
        if run
        else [stored.run_id for stored in store.iter_runs(name)]
    )
    found = locks(store, name, chosen)
    running = [lock for lock in found if lock.running]
    for lock in running:
        console.print(
            Text.assemble(
                ("kept", "yellow"),
                f": run {lock.run_id} is held by {lock}, which still runs "
                f"(omnibench cancel {name} stops it)",
            ),
            soft_wrap=True,
        )
    gone = [lock for lock in found if not lock.running]
    if not gone:
        console.print(f"no lock to take over among {plural(len(chosen), 'run')} of '{name}'")
        raise typer.Exit(1 if running else 0)
    for lock in gone:
        console.print(f"run {lock.run_id}: held by {lock}", soft_wrap=True)
    question = (
        f"Take over {plural(len(gone), 'lock')} of '{name}'? Only if the processes named are gone: "
        "two processes executing one run spoil it"
    )
    if not yes and not typer.confirm(question, default=False):
        raise typer.Exit(1)
    for lock in gone:
        unlock(store, name, lock)
    unlocked = plural(len(gone), "run")
    console.print(f"unlocked {unlocked} of '{name}': omnibench run resumes them", soft_wrap=True)
