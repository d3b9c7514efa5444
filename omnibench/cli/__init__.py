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
    from omnibench.cli import data  # noqa: PLC0415

    app.add_typer(data.app, name="data")


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user errors become one red line and exit code 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except OmniBenchError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        return err.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
