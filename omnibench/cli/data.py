"""`omnibench data ...`: inspect and check datasets, measure split overlap, generate the synthetic
benchmark."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from omnibench.errors import OmniBenchError

if TYPE_CHECKING:
    from omnibench.data import DatasetAdapter, VideoRecord

app = typer.Typer(
    help="Inspect datasets and generate the synthetic motion benchmark.", no_args_is_help=True
)
console = Console()

DatasetArg = Annotated[
    str, typer.Argument(help="Registered dataset name, or a folder of list files + labels CSV.")
]
DataRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="Folder holding <dataset>/ (overrides OMNIBENCH_DATA and datasets.yaml).",
    ),
]
SplitOpt = Annotated[
    list[str] | None,
    typer.Option("--split", "-s", help="Split name (repeatable); default: all splits."),
]
WorkersOpt = Annotated[int, typer.Option("--workers", "-j", min=1, help="Decoding processes.")]
DEFAULT_WORKERS = min(8, os.cpu_count() or 1)


def _adapter(dataset: str, data_root: Path | None) -> DatasetAdapter:
    from omnibench.data import DATASETS, get_dataset  # noqa: PLC0415
    from omnibench.data.roots import load_config  # noqa: PLC0415

    if dataset not in DATASETS and dataset not in load_config() and Path(dataset).is_dir():
        return get_dataset("list", root=Path(dataset))
    return get_dataset(dataset, data_root=data_root)


def dataset_records(
    dataset: str, data_root: Path | None, splits: list[str] | None
) -> tuple[DatasetAdapter, list[VideoRecord]]:
    """The dataset's adapter and the videos of the given splits (default: all), each path once, in
    list order."""
    adapter = _adapter(dataset, data_root)
    unique: dict[Path, VideoRecord] = {}
    for split in splits or adapter.split_names():
        for record in adapter.load_split(split).records:
            unique.setdefault(record.path, record)
    return adapter, list(unique.values())


@app.command()
def show(
    dataset: DatasetArg,
    split: SplitOpt = None,
    data_root: DataRootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the split sizes and class names of a dataset."""
    adapter = _adapter(dataset, data_root)
    splits = {name: adapter.load_split(name) for name in (split or adapter.split_names())}
    classnames = next(iter(splits.values())).classnames
    if as_json:
        sizes = {name: len(s) for name, s in splits.items()}
        print(
            json.dumps(
                {
                    "dataset": adapter.name,
                    "root": str(adapter.root),
                    "splits": sizes,
                    "classes": list(classnames),
                }
            )
        )
        return
    table = Table(title=f"{adapter.name} ({adapter.root})")
    for column in ("split", "videos", "classes present", "annotation files"):
        table.add_column(column)
    for name, s in splits.items():
        present = sum(1 for count in s.class_counts().values() if count)
        table.add_row(
            name, str(len(s)), f"{present}/{s.num_classes}", "\n".join(map(str, s.annotation_files))
        )
    console.print(table)
    console.print(f"[bold]{len(classnames)} classes:[/] " + ", ".join(classnames), highlight=False)


@app.command()
def check(
    dataset: DatasetArg,
    split: SplitOpt = None,
    data_root: DataRootOpt = None,
    workers: WorkersOpt = DEFAULT_WORKERS,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object (the broken videos with their list line)."
        ),
    ] = False,
) -> None:
    """Decode every frame of every video of the split(s); list the broken ones and exit 1 if any."""
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from omnibench.data.check import check_records  # noqa: PLC0415

    adapter, records = dataset_records(dataset, data_root, split)
    splits = split or adapter.split_names()
    columns = (TextColumn("decoding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("check", total=len(records))
        broken = check_records(records, workers, lambda: progress.advance(task))
    if as_json:
        listed = [
            {"source": record.source, "path": str(record.path), "reason": reason}
            for record, reason in broken
        ]
        print(
            json.dumps(
                {
                    "dataset": adapter.name,
                    "root": str(adapter.root),
                    "splits": list(splits),
                    "videos": len(records),
                    "broken": listed,
                }
            )
        )
    else:
        print_broken(adapter.name, len(records), broken)
    if broken:
        raise typer.Exit(1)


def print_broken(dataset: str, videos: int, broken: list[tuple[VideoRecord, str]]) -> None:
    """One whole line per broken video (list line, video, reason): readable at any width and in
    logs."""
    if not broken:
        console.print(f"[green]all {videos} videos of {dataset} decode[/]", highlight=False)
        return
    console.print(
        f"[bold red]{len(broken)} of {videos} videos of {dataset} are broken:[/]", highlight=False
    )
    for record, reason in broken:
        console.print(
            f"{record.source}: {record.path}: {reason}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )


@app.command()
def overlap(
    list_a: Annotated[
        Path, typer.Argument(help="Training list (any list format whose first field is the video).")
    ],
    list_b: Annotated[Path, typer.Argument(help="Evaluation list.")],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object (key 'overlap' = exact file matches)."),
    ] = False,
) -> None:
    """Count videos of LIST_B that are in LIST_A, or share a UCF101/HMDB51 source group with one."""
    from omnibench.data.formats import require_file  # noqa: PLC0415
    from omnibench.data.overlap import compare_lists  # noqa: PLC0415

    report = compare_lists(require_file(list_a, "LIST_A"), require_file(list_b, "LIST_B"))
    if as_json:
        print(json.dumps({"list_a": str(list_a), "list_b": str(list_b)} | report.to_dict()))
        return
    console.print(
        f"{list_a}: {report.videos_a} videos; {list_b}: {report.videos_b} videos", highlight=False
    )
    colour = "red" if report.overlap else "green"
    console.print(f"[{colour}]same file in both lists: {report.overlap}[/]")
    if report.group_scheme:
        colour = "red" if report.group_overlap else "green"
        console.print(
            f"[{colour}]{report.group_scheme} source groups: "
            f"{report.group_overlap} videos of LIST_B share "
            f"{report.shared_groups} source group(s) with LIST_A[/]"
        )


@app.command()
def synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to create (must not exist or be empty).")
    ],
    classes: Annotated[
        str | None,
        typer.Option(help="How many classes (first N motions), or comma-separated motion phrases."),
    ] = None,
    videos_per_class: Annotated[
        int, typer.Option(help="Half train, the rest over test1..test3.")
    ] = 48,
    frames: Annotated[int, typer.Option(help="Frames per video.")] = 16,
    size: Annotated[int, typer.Option(help="Frame width and height in pixels (even).")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 0,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Encoding processes.")] = 1,
) -> None:
    """Generate the synthetic motion benchmark (H.264 mp4 + list-format annotations)."""
    import time  # noqa: PLC0415

    from omnibench.data.synth import (  # noqa: PLC0415
        DEFAULT_CLASSES,
        MOTIONS,
        SynthConfig,
        generate_synthetic,
    )

    if out.exists() and not out.is_dir():
        raise OmniBenchError(f"--out {out} is a file, not a folder; name a folder to create")
    names = DEFAULT_CLASSES
    if classes is not None and classes.isdigit():
        if not 1 <= int(classes) <= len(MOTIONS):
            raise OmniBenchError(
                f"--classes must be 1..{len(MOTIONS)} (the number of motions), got {classes}"
            )
        names = tuple(list(MOTIONS)[: int(classes)])
    elif classes is not None:
        names = tuple(c.strip() for c in classes.split(","))
    config = SynthConfig(names, videos_per_class, frames, size, seed)
    start = time.perf_counter()
    generate_synthetic(out, config, workers)
    seconds = time.perf_counter() - start
    total = len(names) * videos_per_class
    console.print(
        f"wrote {total} videos of {len(names)} classes to {out} in {seconds:.1f} s", highlight=False
    )
