"""`omnibench report`: the papers' tables from the run records, beside the published numbers.

Reads only suite definitions and ``record.json`` / ``status.json`` files; never runs anything.
pandas and matplotlib are imported inside the command.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from omnibench.errors import OmniBenchError

app = typer.Typer()
console = Console(highlight=False)


def _suites(names: list[str], store_root: Path, stored: list[str]) -> list[object]:
    """The named suites, or every suite that has runs in the store (and a definition)."""
    from omnibench.suite import load_suite, suite_files  # noqa: PLC0415

    if names:
        return [load_suite(name) for name in names]
    known = suite_files()
    missing = [name for name in stored if name not in known]
    if missing:
        console.print(f"[yellow]skipped[/] runs of suites with no definition: {', '.join(missing)}")
    chosen = [load_suite(name) for name in stored if name in known]
    if not chosen:
        raise OmniBenchError(f"no suite has runs in {store_root}; name one (omnibench ls suites) or pass --results DIR")
    return chosen


@app.command()
def report(
    suites: Annotated[Optional[list[str]], typer.Argument(help="Suites to report (default: every suite with runs in the store).")] = None,
    latex: Annotated[Optional[Path], typer.Option("--latex", help="Write one LaTeX document with every table (pdflatex-ready).")] = None,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Write the tables as markdown.")] = None,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Write one long-format CSV per table into this folder.")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write PNG figures into this folder.")] = None,
    results: Annotated[Optional[Path], typer.Option("--results", help="Run store root (default: $OMNIBENCH_RESULTS or results/).")] = None,
) -> None:
    """Tables like the papers' from finished runs, beside the published numbers.

    With no format option the tables print in the terminal; --latex, --markdown, --csv and --plots write files instead. Nothing is run.
    """
    from omnibench.report import write_report  # noqa: PLC0415
    from omnibench.store import RunStore  # noqa: PLC0415

    store = RunStore(results)
    chosen = _suites(list(suites or []), store.root, store.suites())
    files_requested = any(option is not None for option in (latex, markdown, csv, plots))
    tables, written = write_report(chosen, store, latex=latex, markdown=markdown, csv_dir=csv, plots_dir=plots,
                                   console=None if files_requested else console)
    if files_requested:
        console.print(f"{len(tables)} table(s) from {len(chosen)} suite(s):")
        for path in written:
            console.print(f"  wrote {path}", soft_wrap=True)
