"""The papers' published numbers (``published.yaml``), loaded once into typed rows.

Every cell is keyed by its column values (canonical, see :func:`labels.canonical_value`) and
its metric, so published rows line up with measured rows of the same columns.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from omnibench.errors import OmniBenchError
from omnibench.report.labels import TIMES, backbone_label, canonical_value

LAYOUTS = ("grid", "supervised", "zero_shot")
CellKey = tuple[tuple[Any, ...], str]  # (column values, metric)


@dataclasses.dataclass(frozen=True)
class Stat:
    """One table cell: mean, optional std, how many values it aggregates; a difference may carry
    its paired interval (``low``, ``high``) and McNemar's ``p_value`` (``report.stats``)."""

    mean: float | None
    std: float | None = None
    n: int = 1
    low: float | None = None
    high: float | None = None
    p_value: float | None = None

    @property
    def within_noise(self) -> bool | None:
        """True when the interval contains 0; None without an interval."""
        return None if self.low is None or self.high is None else self.low <= 0.0 <= self.high


@dataclasses.dataclass(frozen=True)
class PublishedRow:
    """One row of a published table."""

    method: str
    source: str  # "OmniCLIP T5"
    cells: Mapping[CellKey, Stat]
    model: str | None = None
    group: str = ""
    backbone: str | None = None
    pretraining: str | None = None
    frames: int | None = None
    views: str | None = None
    aliases: tuple[str, ...] = ()  # other omnibench row labels that name this row
    protocol: str | None = None  # the omnibench protocol the numbers were measured with
    splits: str = (
        "first"  # first: the first test split of each dataset; all: mean over every test split
    )

    @property
    def frames_views(self) -> str:
        """``8×4×3`` as the papers print it."""
        if self.frames is None:
            return ""
        return f"{self.frames}{TIMES}{(self.views or '').replace('x', TIMES)}".rstrip(TIMES)


@dataclasses.dataclass(frozen=True)
class PublishedTable:
    """One published table: where it comes from, how it is laid out, its rows."""

    key: str
    paper: str
    number: int
    title: str
    layout: str
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    digits: int
    rows: tuple[PublishedRow, ...]
    datasets: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    note: str = ""

    @property
    def source(self) -> str:
        """Short reference, e.g. "OmniCLIP T5"."""
        return source_label(self.paper, self.number)

    def citation(self) -> str:
        """One line naming the paper and the table."""
        return f"{self.source}: {PAPERS[self.paper]['cite']} Table {self.number}."


def source_label(paper: str, number: int) -> str:
    """Short reference to a paper's table."""
    return f"{PAPERS[paper]['short']} T{number}"


@functools.cache
def _data() -> dict[str, Any]:
    text = (
        resources.files("omnibench.report").joinpath("published.yaml").read_text(encoding="utf-8")
    )
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # safe_load's data


PAPERS: Mapping[str, Mapping[str, str]] = _data()["papers"]
SETTING: Mapping[str, str] = _data()[
    "setting"
]  # backbone and pre-training of every row unless it says


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    """What the papers' numbers on a dataset were measured on: its class count and test splits."""

    classes: int | None
    test_splits: tuple[str, ...]


@functools.cache
def dataset_facts() -> dict[str, DatasetFacts]:
    """Class count and official test splits by canonical dataset name
    (``published.yaml: datasets``)."""
    return {
        canonical_value("dataset", name): DatasetFacts(
            entry.get("classes"), tuple(entry["test_splits"])
        )
        for name, entry in _data()["datasets"].items()
    }


@functools.cache
def published_tables() -> dict[str, PublishedTable]:
    """All published tables by key (``table5``, ``vificlip-table3``, ...)."""
    return {key: _table(key, entry) for key, entry in _data()["tables"].items()}


def get_table(key: str) -> PublishedTable | None:
    """A published table by key, or None when the papers have no such table."""
    return published_tables().get(key)


def with_related(key: str | None) -> list[PublishedTable]:
    """The table named ``key`` followed by the other papers' tables it lists under ``also``."""
    table = get_table(key) if key is not None else None
    if table is None:
        return []
    return [table] + [published_tables()[other] for other in table.also]


def supervised_tables_for(dataset: str) -> list[PublishedTable]:
    """Published supervised tables that cover ``dataset`` (canonical name), own papers' first."""
    found = [
        t for t in published_tables().values() if t.layout == "supervised" and dataset in t.datasets
    ]
    return sorted(found, key=lambda t: (t.paper != "omniclip", t.key))


def _table(key: str, entry: Mapping[str, Any]) -> PublishedTable:
    where = f"omnibench/report/published.yaml: tables.{key}"
    if entry.get("layout") not in LAYOUTS or entry.get("paper") not in PAPERS:
        raise OmniBenchError(
            f"{where}: needs a layout in {LAYOUTS} and a paper in {sorted(PAPERS)}"
        )
    columns = tuple(entry["columns"])
    metrics = tuple(entry["metrics"])
    datasets = tuple(canonical_value("dataset", d) for d in entry.get("datasets", ()))
    source = source_label(entry["paper"], entry["number"])
    shared = {
        k: entry[k] for k in ("protocol", "splits", "frames", "views", "pretraining") if k in entry
    }
    rows = tuple(
        _row({**shared, **row}, columns, metrics, datasets, source, f"{where}.rows[{i}]")
        for i, row in enumerate(entry["rows"])
    )
    return PublishedTable(
        key=key,
        paper=entry["paper"],
        number=int(entry["number"]),
        title=entry["title"],
        layout=entry["layout"],
        columns=columns,
        metrics=metrics,
        digits=int(entry.get("digits", 1)),
        rows=rows,
        datasets=datasets,
        also=tuple(entry.get("also", ())),
        note=entry.get("note", ""),
    )


def _row(
    row: Mapping[str, Any],
    columns: tuple[str, ...],
    metrics: tuple[str, ...],
    datasets: tuple[str, ...],
    source: str,
    where: str,
) -> PublishedRow:
    if "cells" in row:
        cells = _cells(row["cells"], columns, metrics, (), where)
    else:  # a supervised row of a one-dataset table: metrics and GFLOPs at the row's top level
        if len(datasets) != 1:
            raise OmniBenchError(f"{where}: a row without 'cells' needs exactly one table dataset")
        cells = {
            ((datasets[0],), m): _stat(row.get(m), where) for m in (*metrics, "gflops") if m in row
        }
    return PublishedRow(
        method=row["method"],
        source=source,
        cells=cells,
        model=row.get("model"),
        group=row.get("group", ""),
        backbone=row.get("backbone"),
        pretraining=row.get("pretraining"),
        frames=row.get("frames"),
        views=row.get("views"),
        aliases=tuple(row.get("aliases", ())),
        protocol=row.get("protocol"),
        splits=row.get("splits", "first"),
    )


def _cells(
    node: Any,
    columns: tuple[str, ...],
    metrics: tuple[str, ...],
    prefix: tuple[Any, ...],
    where: str,
) -> dict[CellKey, Stat]:
    """Walk the nested ``cells`` mapping (one level per column, then metric when there are
    several)."""
    depth = len(prefix)
    if depth < len(columns):
        if not isinstance(node, Mapping):
            raise OmniBenchError(f"{where}: expected a mapping for column '{columns[depth]}'")
        out: dict[CellKey, Stat] = {}
        for value, child in node.items():
            key = canonical_value(columns[depth], value)
            out.update(_cells(child, columns, metrics, (*prefix, key), where))
        return out
    if len(metrics) == 1:
        return {(prefix, metrics[0]): _stat(node, where)}
    if not isinstance(node, Mapping) or set(node) - set(metrics):
        raise OmniBenchError(f"{where}: expected a mapping of metrics {metrics} at {prefix}")
    return {(prefix, m): _stat(v, where) for m, v in node.items()}


def _stat(value: Any, where: str) -> Stat:
    if value is None:
        return Stat(None, n=0)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return Stat(float(value[0]), float(value[1]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Stat(float(value))
    raise OmniBenchError(f"{where}: a cell must be a number, [mean, std] or null, got {value!r}")


def published_gflops(model: str, backbone: str, frames: int, size: int) -> dict[str, Any] | None:
    """The papers' GFLOPs per view of ``model`` on ``backbone`` (open_clip name) with ``frames``
    frames, when one was published (224 px only): the first value (its own paper's tables
    first), every source with its value, and what the paper counts."""
    found = _gflops_sources(model, backbone_label(backbone.removesuffix("-quickgelu")), frames)
    if not found or size != 224:
        return None
    sources = "; ".join(f"{source}: {value:g}" for source, value in found)
    counts = _data()["gflops"]["counts"].get(model, "")
    return {"gflops": found[0][1], "scope": f"{sources} ({counts})" if counts else sources}


def _gflops_sources(model: str, backbone: str, frames: int) -> list[tuple[str, float]]:
    """(source, GFLOPs) of every published row of this setting, own paper's tables first."""
    tables = sorted(published_tables().values(), key=lambda t: t.paper != model)
    found = {
        row.source: cell.mean
        for table in tables
        for row in table.rows
        for (_, metric), cell in row.cells.items()
        if metric == "gflops" and cell.mean is not None and row.model == model
        if (row.backbone or SETTING["backbone"], row.frames) == (backbone, frames)
    }
    for extra in _data()["gflops"]["rows"]:
        if (extra["model"], extra["backbone"], extra["frames"]) == (model, backbone, frames):
            found.setdefault(extra["source"], float(extra["gflops"]))
    return list(found.items())
