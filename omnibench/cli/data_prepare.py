"""`omnibench data prepare`: re-encode a dataset's videos for fast random access (resumable)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnibench.cli.data import (
    DEFAULT_WORKERS,
    DataRootOpt,
    SplitOpt,
    WorkersOpt,
    console,
    dataset_records,
    print_broken,
)
from omnibench.cli.suite_progress import clock
from omnibench.data.encode import EncodeSettings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from omnibench.data.prepare import PrepareSummary
    from omnibench.data.prepared import PreparePlan

DEFAULT = EncodeSettings()
PLAIN_EVERY_S = 10.0  # a progress line at most this often in a log


def _plan(dataset: str, data_root: Path | None, splits: list[str] | None, out: Path) -> PreparePlan:
    from omnibench.data.prepared import plan_dataset, plan_folder  # noqa: PLC0415

    folder = Path(dataset)
    if folder.is_dir() and not any(folder.glob("*.txt")) and not (folder / "labels.csv").exists():
        return plan_folder(folder, out)
    adapter, records = dataset_records(dataset, data_root, splits)
    names = splits or adapter.split_names()
    files = [f for name in names for f in adapter.load_split(name).annotation_files]
    name = folder.name if folder.is_dir() and adapter.name == "list" else adapter.name
    return plan_dataset(adapter, records, [*files, *adapter.companion_files()], out, name)


class _Progress:
    """A rich bar on a terminal; in a log, a plain line every :data:`PLAIN_EVERY_S` seconds."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.rich = quiet, sys.stdout.isatty()
        self.began = self.last = time.monotonic()
        self.todo = 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def start(self, summary: PrepareSummary, todo: int) -> None:
        self.todo, self.began = todo, time.monotonic()
        if self.quiet:
            return
        done = summary.already + len(summary.broken)
        if done:
            console.print(
                f"{summary.already} of {summary.listed} videos already prepared"
                + (f", {len(summary.broken)} broken (unchanged)" if summary.broken else "")
                + (f"; {summary.changed} changed since, prepared again" if summary.changed else ""),
                highlight=False,
            )
        if self.rich and todo:
            from rich import progress  # noqa: PLC0415

            columns = (
                progress.TextColumn("[bold]preparing"),
                progress.BarColumn(),
                progress.MofNCompleteColumn(),
                progress.TextColumn("{task.fields[status]}"),
                progress.TimeRemainingColumn(),
            )
            self.bar = progress.Progress(*columns, console=console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("preparing", total=todo, status="")

    def advance(self, summary: PrepareSummary, broken_before: int) -> None:
        finished = summary.prepared + len(summary.broken) - broken_before
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=finished, status=f"{len(summary.broken)} broken")
        elif not self.quiet and (
            time.monotonic() - self.last >= PLAIN_EVERY_S or finished == self.todo
        ):
            self.last = time.monotonic()
            elapsed = self.last - self.began
            eta = elapsed / finished * (self.todo - finished) if finished else 0.0
            console.print(
                f"prepared {finished}/{self.todo} ({len(summary.broken)} broken), "
                f"{finished / elapsed:.2f} videos/s, {clock(elapsed)} elapsed, ETA {clock(eta)}",
                highlight=False,
            )

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextlib.contextmanager
def _interrupts(out: Path) -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"interrupted: run the same command again to resume into {out}")
        raise typer.Exit(130) from None


def prepare(
    dataset: Annotated[
        str,
        typer.Argument(
            help="Dataset name, a folder of list files + labels CSV, or a folder of videos."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Prepared data root: writes OUT/<dataset>/.")
    ],
    split: SplitOpt = None,
    data_root: DataRootOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    short_side: Annotated[
        int, typer.Option(help="Scale the short side down to this many pixels (never up).")
    ] = DEFAULT.short_side,
    keyframe_interval: Annotated[
        int, typer.Option(help="A keyframe every N frames: what a random read decodes at most.")
    ] = DEFAULT.keyframe_interval,
    crf: Annotated[
        int, typer.Option(help="x264 constant rate factor (quality; lower is better).")
    ] = DEFAULT.crf,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Re-encode every video of DATASET (H.264, short side, keyframe interval) into OUT with the
    layout and file names its adapter reads, so that --data-root OUT reads them. Resumable;
    a second call does nothing. Lists the broken sources and exits 1 if any."""
    from omnibench.data.prepare import run_prepare  # noqa: PLC0415

    settings = EncodeSettings(short_side, keyframe_interval, crf)
    plan = _plan(dataset, data_root, split, out)
    progress = _Progress(as_json)
    broken_before: list[int] = []

    def on_start(summary: PrepareSummary, todo: int) -> None:
        broken_before.append(len(summary.broken))
        progress.start(summary, todo)

    with _interrupts(plan.out_root):
        try:
            summary = run_prepare(
                plan, settings, workers, lambda s: progress.advance(s, broken_before[0]), on_start
            )
        finally:
            progress.stop()
    _report(plan, summary, as_json)
    if summary.broken:
        raise typer.Exit(1)


def _report(plan: PreparePlan, summary: PrepareSummary, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"dataset": plan.name, "out": str(plan.out_root), **summary.to_dict()}))
        return
    if summary.prepared == 0 and not summary.changed:
        console.print(
            f"nothing to do: all {summary.listed - len(summary.broken)} readable videos of "
            f"{plan.name} are already prepared in {plan.out_root}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"prepared {summary.prepared} videos of {plan.name} into {plan.out_root}",
            highlight=False,
        )
    if summary.broken:
        print_broken(plan.name, summary.listed, summary.broken)
