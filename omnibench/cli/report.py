"""`omnibench report`: the papers' tables from the run records, beside the published numbers.

Reads only suite definitions and ``record.json`` / ``status.json`` files; never runs anything.
pandas and matplotlib are imported inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from omnibench.cli.options import DataRoot, Limit, Results, Settings, read_store, suite_settings
from omnibench.cli.run_tables import plural
from omnibench.errors import OmniBenchError
from omnibench.suite.paths import Leaves

if TYPE_CHECKING:
    from omnibench.report.tables import ReportTable
    from omnibench.store.run_store import RunStore
    from omnibench.suite.load import Suite

app = typer.Typer()
console = Console(highlight=False)


def _suites(names: list[str], store: RunStore, settings: Leaves) -> list[Suite]:
    """The named suites, or every suite that has runs in the store and a definition (a suite file
    found by name, or the file a suite was run from)."""
    from omnibench.suite.files import has_definition  # noqa: PLC0415
    from omnibench.suite.load import load_suite  # noqa: PLC0415

    if names:
        return [load_suite(name, settings, store) for name in names]
    defined = [name for name in store.suites() if has_definition(name, store)]
    missing = [name for name in store.suites() if name not in defined]
    if missing:
        console.print(
            f"[yellow]skipped[/] runs of suites with no definition: {', '.join(missing)}",
            soft_wrap=True,
        )
    if not defined:
        raise OmniBenchError(
            f"no suite has runs in {store.root}; name one "
            "(omnibench ls suites) or pass --results DIR"
        )
    found = []
    for name in defined:  # one suite whose file moved or broke never hides the others
        try:
            found.append(load_suite(name, settings, store))
        except OmniBenchError as err:
            console.print(
                Text.assemble(("skipped", "yellow"), f" suite '{name}': {err}"), soft_wrap=True
            )
    return found


@app.command()
def report(
    suites: Annotated[
        list[str] | None,
        typer.Argument(help="Suites to report (default: every suite with runs in the store)."),
    ] = None,
    latex: Annotated[
        Path | None,
        typer.Option(
            "--latex",
            metavar="FILE",
            help="Write one LaTeX document with every table (pdflatex-ready).",
        ),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", metavar="FILE", help="Write the tables as markdown."),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            "--csv", metavar="DIR", help="Write one long-format CSV per table into this folder."
        ),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option("--plots", metavar="DIR", help="Write PNG figures into this folder."),
    ] = None,
    curves: Annotated[
        Path | None,
        typer.Option(
            "--curves",
            metavar="DIR",
            help=(
                "Write each table's training curves into this folder: loss and learning rate "
                "against epochs, a line per row (PNG)."
            ),
        ),
    ] = None,
    settings: Settings = None,
    limit: Limit = None,
    results: Results = None,
    data_root: DataRoot = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the tables as JSON (the CSV's long format) instead."),
    ] = False,
    resamples: Annotated[
        int | None,
        typer.Option(
            "--resamples",
            min=100,
            metavar="N",
            help=(
                "Bootstrap resamples of the paired intervals "
                "of the Δ-to-reference rows (default 10000)."
            ),
        ),
    ] = None,
    bootstrap_seed: Annotated[
        int | None,
        typer.Option(
            "--bootstrap-seed",
            metavar="SEED",
            help="Seed of the bootstrap draws: the same seed gives the same intervals (default 0).",
        ),
    ] = None,
) -> None:
    """Tables like the papers' from finished runs, beside the published numbers.

    With no format option the tables print in the terminal; --latex, --markdown, --csv, --plots \
and --curves write files instead.
    --set / --limit report the runs made with those settings. Nothing is run.
    """
    from omnibench.report import write_report  # noqa: PLC0415
    from omnibench.report.stats import BootstrapSettings  # noqa: PLC0415

    store = read_store(results)
    chosen = _suites(list(suites or []), store, suite_settings(settings, limit))
    files_requested = any(option is not None for option in (latex, markdown, csv, plots, curves))
    given = {"resamples": resamples, "seed": bootstrap_seed}
    bootstrap = BootstrapSettings(
        **{key: value for key, value in given.items() if value is not None}
    )
    tables, written = write_report(
        chosen,
        store,
        latex=latex,
        markdown=markdown,
        csv_dir=csv,
        plots_dir=plots,
        curves_dir=curves,
        console=None if files_requested or as_json else console,
        bootstrap=bootstrap,
    )
    if data_root is not None and not as_json:  # what the runs not done yet would meet
        _data_warnings(chosen, store, data_root)
    if as_json:
        typer.echo(json.dumps([table_json(table) for table in tables], indent=2))
    elif files_requested:
        console.print(f"{plural(len(tables), 'table')} from {plural(len(chosen), 'suite')}:")
        for path in written:
            console.print(f"  wrote {path}", soft_wrap=True)
        if curves is not None and not any(path.parent == curves for path in written):
            console.print(
                "  [yellow]no training curves[/]: no run of these tables has trained yet "
                "(or they all evaluate frozen models)"
            )


def _data_warnings(suites: list[Suite], store: RunStore, data_root: Path) -> None:
    """``--data-root``: what it lacks for the suites' runs that are not done yet (warnings)."""
    from omnibench.cli.checks import print_findings, unfinished_data_findings  # noqa: PLC0415
    from omnibench.execution.plan import plan_runs  # noqa: PLC0415

    for suite in suites:
        print_findings(
            unfinished_data_findings(plan_runs(suite.name, suite.specs, store), data_root)
        )


def table_json(table: ReportTable) -> dict[str, Any]:
    """One report table as JSON: what it shows, its notes and footer, and its numeric cells in long
    format."""
    cells = json.loads(table.tidy().to_json(orient="records")) if table.rows else []
    return {
        "suite": table.suite,
        "table": table.key,
        "title": table.title,
        "layout": table.layout,
        "notes": table.notes,
        "footer": table.footer,
        "cells": cells,
    }
