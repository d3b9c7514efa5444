"""Options shared by several commands, and the ``--set`` / ``--limit`` settings they turn into."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnibench.config.runtime import LaunchOptions
from omnibench.errors import OmniBenchError
from omnibench.suite.paths import Leaves, parse_settings

if TYPE_CHECKING:
    from omnibench.store.run_store import RunStore

Results = Annotated[
    Path | None,
    typer.Option(
        "--results", metavar="DIR", help="Run store root (default: $OMNIBENCH_RESULTS or results/)."
    ),
]
DataRoot = Annotated[
    Path | None, typer.Option("--data-root", help="Folder holding one sub-folder per dataset.")
]
StoredSuite = Annotated[
    str, typer.Argument(help="The suite: its name in the store, or its suite file.")
]
RunPrefixes = Annotated[
    list[str] | None,
    typer.Option(
        "--run",
        "-r",
        metavar="RUN",
        help="Only this run (a unique prefix of its id; repeatable).",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Settings = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help=(
            "Set a spec value in every run (dotted spec "
            "path, repeatable), e.g. --set optim.epochs=2 "
            "--set model.pretrained=/ckpt/ViT-B-16.pt; part of each run's spec and id."
        ),
    ),
]
Limit = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=1,
        metavar="N",
        help=(
            "Smoke run: at most N videos per class of every "
            "split a run reads. Such runs are labelled "
            "limited and never compared with published numbers."
        ),
    ),
]
Force = Annotated[
    bool, typer.Option("--force", help="Rerun finished runs (their directories are cleared).")
]


def suite_settings(pairs: list[str] | None, limit: int | None) -> Leaves:
    """``--set KEY=VALUE`` and ``--limit N`` as spec settings for ``load_suite`` (``--limit`` =
    ``--set limit=N``)."""
    settings = parse_settings(pairs or [])
    if limit is not None:
        settings["limit"] = (limit, f"--limit {limit}")
    return settings


def read_store(results: Path | None) -> RunStore:
    """The run store a read command (status, ls runs, report, rm, cancel, unlock) looks at; a store
    named by ``--results`` or ``$OMNIBENCH_RESULTS`` that does not exist is a one-line error (a
    mistyped path), not an empty store."""
    import os  # noqa: PLC0415

    from omnibench.store.run_store import RESULTS_ENV, RunStore  # noqa: PLC0415

    store = RunStore(results)
    named = results is not None or os.environ.get(RESULTS_ENV, "").strip()
    if named and not store.root.is_dir():
        given = f"--results {results}" if results is not None else f"${RESULTS_ENV}"
        what = "is not a folder" if store.root.exists() else "does not exist"
        raise OmniBenchError(f"run store {store.root} {what} (change {given})")
    return store


LAUNCH_DEFAULTS = LaunchOptions()  # how runs execute by default, as the commands show it
RUNTIME_DEFAULTS = LAUNCH_DEFAULTS.runtime  # the runtime options' defaults
Workers = Annotated[
    int, typer.Option("--workers", min=0, help="Data-loader worker processes per rank.")
]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
Decoder = Annotated[
    str,
    typer.Option(
        "--decoder",
        help="How loader workers decode: decord, or pyav (keyframe seeking; same frames, faster "
        "on videos from `data prepare`).",
    ),
]
