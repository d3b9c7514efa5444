"""A suite's ``table`` entry: the paper table it feeds, how the report lays it out, its reference
row."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from omnibench.config.spec import RunSpec
from omnibench.config.yaml_lines import LocatedYaml
from omnibench.registry import did_you_mean
from omnibench.suite.paths import (
    SuiteError,
    check_keys,
    check_path,
    string_at,
)

LAYOUTS = ("grid", "supervised", "zero_shot")
TABLE_KEYS = ("paper_table", "title", "layout", "rows", "columns", "metrics", "reference")


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """The paper table a suite feeds: rows / columns are spec paths, metrics record keys."""

    paper_table: str | None
    title: str
    layout: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    reference: Mapping[str, Any] | None = (
        None  # row path -> value of the row the others are compared with
    )


def parse_table(doc: LocatedYaml, data: Mapping[str, Any]) -> TableSpec:
    """The suite's ``table`` entry, checked (spec paths, layout, reference keys)."""
    check_keys(doc, data, ("table",), TABLE_KEYS)
    paper = data.get("paper_table")
    if paper is not None and not re.fullmatch(r"table\d+", str(paper)):
        raise SuiteError(
            f"{doc.where('table', 'paper_table')}: paper_table "
            f"'{paper}' must look like 'table5' or be null"
        )
    layout = string_at(doc, data, "layout", prefix=("table",))
    if layout not in LAYOUTS:
        raise SuiteError(
            f"{doc.where('table', 'layout')}: layout '{layout}' is not one "
            f"of {', '.join(LAYOUTS)}{did_you_mean(layout, list(LAYOUTS))}"
        )
    lists = {key: _string_list(doc, data, key) for key in ("rows", "columns", "metrics")}
    for key in ("rows", "columns"):
        for index, path in enumerate(lists[key]):
            if not re.fullmatch(
                r"eval\.(dataset|split)", path
            ):  # per-evaluation columns (zero-shot)
                check_path(path, doc.where("table", key, index))
    title = string_at(doc, data, "title", prefix=("table",))
    reference = data.get("reference")
    if reference is not None and (
        not isinstance(reference, Mapping) or not set(reference) <= set(lists["rows"])
    ):
        raise SuiteError(
            f"{doc.where('table', 'reference')}: 'table.reference' must map some of table.rows "
            f"({', '.join(lists['rows'])}) to the values of the row the others are compared with"
        )
    return TableSpec(
        paper, title, layout, lists["rows"], lists["columns"], lists["metrics"], reference
    )


def check_reference(doc: LocatedYaml, table: TableSpec, specs: tuple[RunSpec, ...]) -> None:
    """``table.reference`` must name a row of the suite (a row path it leaves out: unset)."""
    if table.reference is None:
        return
    wanted = [table.reference.get(path) for path in table.rows]
    rows = {repr(row): row for row in ([s.value_at(p) for p in table.rows] for s in specs)}
    if wanted not in rows.values():
        known = "; ".join(
            ", ".join(f"{p}={v}" for p, v in zip(table.rows, row)) for row in rows.values()
        )
        raise SuiteError(
            f"{doc.where('table', 'reference')}: table.reference "
            f"names no row of the suite; rows: {known}"
        )


def _string_list(doc: LocatedYaml, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SuiteError(
            f"{doc.where('table', key)}: 'table.{key}' must be a non-empty list of strings"
        )
    return tuple(value)
