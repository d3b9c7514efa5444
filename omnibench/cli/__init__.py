"""The ``omnibench`` command line: one Typer app, one sub-module per command group.

Command modules import heavy libraries (torch, open_clip) inside their functions so that
``omnibench --help`` and store-only commands start fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from omnibench.errors import OmniBenchError, os_error
from omnibench.store.runlog import guard_pipes

if TYPE_CHECKING:
    from typer._click import Context  # typer's own click: the context its hooks are typed with

err_console = Console(stderr=True)


def report_error(error: OmniBenchError) -> int:
    """Print a user error as one red line on stderr; return its exit code."""
    # the message as it is: a path or value holding "[...]" or ":x:" is not rich markup or an emoji
    err_console.print(
        Text.assemble(("error:", "bold red"), f" {error}"), highlight=False, soft_wrap=True
    )
    return error.exit_code


class OmniBenchGroup(TyperGroup):
    """The command tree: a user error raised by any command, or a file the system refused, is one
    red line and its exit code."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except OmniBenchError as error:
            raise typer.Exit(report_error(error)) from None
        except OSError as error:  # a file the system refused (name too long, not a folder...)
            line = os_error(error)
            if line is None:
                raise
            raise typer.Exit(report_error(line)) from None


app = typer.Typer(
    name="omnibench",
    help="Benchmark and ablate CLIP-based video recognition (OmniCLIP, X-CLIP, ViFi-CLIP).",
    cls=OmniBenchGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_commands() -> None:
    from omnibench.cli import (  # noqa: PLC0415
        bench,
        checks,
        data,
        data_prepare,
        evaluate,
        models,
        report,
        rm,
        runs,
        status,
        unlock,
    )

    data.app.command("prepare")(data_prepare.prepare)
    app.add_typer(data.app, name="data")
    app.command("flops")(models.flops)
    app.command("bench")(bench.bench)
    app.add_typer(report.app)  # report
    app.add_typer(runs.app)  # run, ablate, ls suites, ls models
    app.add_typer(checks.app)  # validate
    app.add_typer(status.app)  # status, cancel (and ls runs)
    app.add_typer(rm.app)  # rm
    app.add_typer(unlock.app)  # unlock
    app.add_typer(evaluate.app)  # eval


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; user errors become one red line and exit code 2; output
    to a pipe whose reader went away is dropped (``runlog.guard_pipes``)."""
    guards = guard_pipes()
    try:
        app(args=argv, prog_name="omnibench")  # standalone: usage errors print and exit 2
    except OmniBenchError as err:
        return report_error(err)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    else:
        code = 0
    lost = [guard.lost for guard in guards if guard.lost is not None]
    if lost:  # e.g. `> out.txt` on a full disk: say so (on stderr, where it still can)
        what = os.strerror(lost[0].errno or 0) if lost[0].errno else str(lost[0])
        code = max(code, report_error(OmniBenchError(f"output lost: {what.lower()}")))
    return code


if __name__ == "__main__":
    sys.exit(main())
