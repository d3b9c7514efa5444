"""The ``omnibench`` command line: one Typer app, one sub-module per command group.

Command modules import heavy libraries (torch, open_clip) inside their functions so that
``omnibench --help`` and store-only commands start fast.
"""
from __future__ import annotations

import sys

import typer
from rich.console import Console

from omnibench.errors import OmniBenchError

app = typer.Typer(
    name="omnibench",
    help="Benchmark and ablate CLIP-based video recognition (OmniCLIP, X-CLIP, ViFi-CLIP).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register_commands() -> None:
    from omnibench.cli import bench, data, models, report, runs  # noqa: PLC0415

    app.add_typer(data.app, name="data")
    app.command("flops")(models.flops)
    app.command("bench")(bench.bench)
    app.add_typer(report.app)  # report
    app.add_typer(runs.app)  # run, ablate, validate, status, cancel, ls


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user errors become one red line and exit code 2."""
    try:
        app(args=argv, prog_name="omnibench")  # standalone: usage errors print and exit 2
    except OmniBenchError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        return err.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
