"""`omnibench data ...`: check, overlap and synthesize video datasets."""
from __future__ import annotations

import typer

app = typer.Typer(help="Inspect datasets and generate the synthetic motion benchmark.", no_args_is_help=True)
