"""The ``supervised`` (OmniCLIP Tables 2-4) and ``zero_shot`` (Table 6) layouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from omnibench.config.metrics import metric_label
from omnibench.report import caveats
from omnibench.report import cells as C
from omnibench.report.labels import (
    TIMES,
    backbone_label,
    canonical_dataset,
    dataset_label,
    pretrained_label,
)
from omnibench.report.pooling import TARGETS
from omnibench.report.published import (
    PublishedRow,
    PublishedTable,
    get_table,
    supervised_tables_for,
    with_related,
)
from omnibench.report.records import NOT_TABULATED, SuiteRuns, evaluations_frame
from omnibench.report.tables import (
    DELTA_PREFIX,
    OURS,
    Column,
    ReportTable,
    TableSpecLike,
    assemble,
    digits_of,
    run_footer,
    shown_rows,
    source_notes,
    without_empty_deltas,
)

TEXT_COLUMNS = (
    ("backbone", "Backbone"),
    ("pretraining", "Pre-training"),
    ("frames_views", f"Frames {TIMES} Views"),
)
GFLOPS_COLUMN = "cost.gflops_video"
VIEWS = ("data.test_clips", "data.test_crops")


def build_supervised(spec: TableSpecLike, runs: SuiteRuns) -> list[ReportTable]:
    """One table per published supervised table the suite's datasets fall in (K400: T2, SSv2: T3,
    HMDB/UCF: T4)."""
    expected, done = runs.expected_frame, runs.records_frame
    datasets = [
        k[0] for k in C.ordered([*C.keys_of(expected, ["dataset"]), *C.keys_of(done, ["dataset"])])
    ]
    groups: dict[str, list[Any]] = {}
    for dataset in datasets:
        groups.setdefault(_supervised_key(spec.paper_table, dataset), []).append(dataset)
    return [
        _supervised_table(spec, runs, key, group, expected, done) for key, group in groups.items()
    ]


def _supervised_key(paper_table: str | None, dataset: Any) -> str:
    candidates = [t.key for t in supervised_tables_for(dataset)]
    if paper_table in candidates:
        return str(paper_table)
    return candidates[0] if candidates else f"supervised-{dataset}"


def _supervised_table(
    spec: TableSpecLike,
    runs: SuiteRuns,
    key: str,
    datasets: list[Any],
    expected: pd.DataFrame,
    done: pd.DataFrame,
) -> ReportTable:
    """Table 2/3 form (one dataset: backbone, frames × views, GFLOPs) or Table 4 form (metrics per
    dataset)."""
    expected, done = _only(expected, datasets), _only(done, datasets)
    metrics = {m: f"metrics.{m}" for m in spec.metrics}
    stats = C.aggregate(done, spec.rows, ["dataset"], {**metrics, "gflops": GFLOPS_COLUMN})
    measured = C.measured_rows(expected, done, spec.rows, stats)
    caveats.attach_runs(measured, done, spec.rows, ["dataset"], [(d,) for d in datasets])
    combined = pd.concat([expected, done], ignore_index=True)
    own = get_table(key)
    detailed = len(datasets) == 1 and (own is None or len(own.datasets) == 1)
    columns = (
        _detail_columns(datasets[0], list(metrics))
        if detailed
        else _dataset_columns(datasets, list(metrics))
    )
    sources = with_related(key)
    published = shown_rows(sources, columns)
    text = {
        **{id(row): _describe(row, combined, spec.rows) for row in measured},
        **{id(pub): _published_text(pub) for pub in published},
    }
    rows = assemble(
        C.pair_rows(published, measured), delta_rows=False, text=text, col_paths=["dataset"]
    )
    title = f"{spec.title} — {', '.join(dataset_label(d) for d in datasets)}"
    notes = (
        source_notes(sources, rows)
        + caveats.caveat_notes(rows, ["dataset"])
        + _scope_notes(done, spec.rows, detailed)
    )
    level_names = ("dataset",) if detailed else ("dataset", "metric")
    return ReportTable(
        runs.suite,
        key,
        title,
        "supervised",
        digits_of(sources),
        level_names,
        without_empty_deltas(columns, rows),
        rows,
        notes,
        run_footer(runs),
    )


def _only(frame: pd.DataFrame, datasets: Sequence[Any]) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[[k[0] in datasets for k in C.keys_of(frame, ["dataset"])]]


def _distinct(frame: pd.DataFrame, column: str) -> list[Any]:
    return list(dict.fromkeys(frame[column].tolist())) if column in frame else []


def _describe(row: C.MeasuredRow, frame: pd.DataFrame, row_paths: Sequence[str]) -> dict[str, str]:
    """Backbone, pre-training and frames × views of a measured row; sets ``row.info`` used for
    matching."""
    mine = frame[[k == row.key for k in C.keys_of(frame, row_paths)]]
    backbones = [backbone_label(str(b)) for b in _distinct(mine, "model.backbone")]
    frames = _distinct(mine, "data.frames")
    clips, crops = (mine[k].tolist() if k in mine else [] for k in VIEWS)
    views = list(dict.fromkeys(f"{c}{TIMES}{s}" for c, s in zip(clips, crops)))
    row.info.update(
        backbone=backbones[0] if len(backbones) == 1 else None,
        frames=int(frames[0]) if len(frames) == 1 else None,
    )
    return {
        "backbone": "/".join(backbones),
        "pretraining": "/".join(pretrained_label(p) for p in _distinct(mine, "model.pretrained")),
        "frames_views": f"{'/'.join(map(str, frames))}{TIMES}{'/'.join(views)}" if frames else "",
    }


def _published_text(row: PublishedRow) -> dict[str, str]:
    return {
        "backbone": row.backbone or "",
        "pretraining": row.pretraining or "",
        "frames_views": row.frames_views,
    }


def _detail_columns(dataset: Any, metrics: list[str]) -> list[Column]:
    key = (dataset,)
    text = [Column(key, field, (header,), "text") for field, header in TEXT_COLUMNS]
    values = [Column(key, m, (metric_label(m),)) for m in metrics]
    return [
        *text,
        *values,
        Column(key, "gflops", ("GFLOPs",), "cost"),
        Column(key, DELTA_PREFIX + metrics[0], (f"Δ {metric_label(metrics[0])}",), "delta"),
    ]


def _dataset_columns(datasets: Sequence[Any], metrics: list[str]) -> list[Column]:
    """Per dataset: one column per metric, then a Δ column for the first metric (Tables 4 and 6)."""
    columns = []
    for dataset in datasets:
        label = dataset_label(dataset)
        columns += [Column((dataset,), m, (label, metric_label(m))) for m in metrics]
        columns.append(
            Column(
                (dataset,),
                DELTA_PREFIX + metrics[0],
                (label, f"Δ {metric_label(metrics[0])}"),
                "delta",
            )
        )
    return columns


def _scope_notes(done: pd.DataFrame, row_paths: Sequence[str], detailed: bool) -> list[str]:
    """What the measured GFLOPs count (the record's ``cost.scope``), so they compare with the
    papers'."""
    if not detailed or done.empty or "cost.scope" not in done:
        return []
    labels = (C.row_name(row_paths, key) for key in C.keys_of(done, row_paths))
    scopes = dict.fromkeys(zip(labels, done["cost.scope"].tolist()))
    unique = {scope for _, scope in scopes}
    if len(unique) == 1:
        return [f"GFLOPs of {OURS} rows: {unique.pop()}."]
    return [
        f"GFLOPs of {OURS} rows — "
        + "; ".join(f"{label}: {scope}" for label, scope in scopes)
        + "."
    ]


def build_zero_shot(spec: TableSpecLike, runs: SuiteRuns) -> list[ReportTable]:
    """Mean ± std of each evaluation dataset's top-1 over its test splits (and seeds), per row."""
    expected, evals = runs.expected_frame, evaluations_frame(runs.records, NOT_TABULATED)
    metrics = [m.removesuffix("_mean") for m in spec.metrics]
    stats = C.aggregate(evals, spec.rows, ["eval.dataset"], {m: f"eval.{m}" for m in metrics})
    measured = C.measured_rows(expected, evals, spec.rows, stats)
    sources = with_related(spec.paper_table)
    datasets = _zero_shot_datasets(expected, evals, sources)
    caveats.attach_runs(measured, evals, spec.rows, ["eval.dataset"], [(d,) for d in datasets])
    columns = _dataset_columns(datasets, metrics)
    rows = assemble(
        C.pair_rows(shown_rows(sources, columns), measured),
        delta_rows=False,
        col_paths=["eval.dataset"],
    )
    notes = (
        source_notes(sources, rows)
        + caveats.caveat_notes(rows, ["eval.dataset"])
        + _splits_note(evals)
    )
    return [
        ReportTable(
            runs.suite,
            spec.paper_table or "table",
            spec.title,
            "zero_shot",
            digits_of(sources),
            ("eval.dataset", "metric"),
            without_empty_deltas(columns, rows),
            rows,
            notes,
            run_footer(runs),
        )
    ]


def _zero_shot_datasets(
    expected: pd.DataFrame, evals: pd.DataFrame, sources: Sequence[PublishedTable]
) -> list[Any]:
    """Evaluation datasets: the runs' targets and what was evaluated; else the paper's columns (all
    "–")."""
    targets = [
        (canonical_dataset(t),) for key in C.keys_of(expected, [TARGETS]) for t in (key[0] or ())
    ]
    keys = [*targets, *C.keys_of(evals, ["eval.dataset"])]
    if not keys and sources:
        keys = [k for row in sources[0].rows for (k, _metric) in row.cells]
    return [k[0] for k in C.ordered(keys)]


def _splits_note(evals: pd.DataFrame) -> list[str]:
    if evals.empty or not {"run_id", "eval.dataset"} <= set(evals.columns):
        return []
    splits = sorted(set(evals.groupby(["run_id", "eval.dataset"]).size().tolist()))
    return [
        f"{OURS}: each run evaluated on {'/'.join(map(str, splits))} test split(s) per dataset."
    ]
