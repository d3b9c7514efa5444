"""What one table cell may pool, by hand: the runs' keys, the values a model implies, the check
``validate`` runs on a suite's specs, and specs flattened to columns."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from omnibench.errors import OmniBenchError
from omnibench.report import pooling


def test_keys_are_made_once_per_distinct_row_of_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 runs of three rows: three keys made, each reused (a campaign's thousands of runs share
    a few settings); 8 and 8.0 are one key but two rows (their types differ)."""
    made: list[tuple[Any, ...]] = []
    key = pooling._key

    def counted(values: tuple[Any, ...], paths: list[str]) -> tuple[Any, ...]:
        made.append(values)
        return key(values, paths)

    monkeypatch.setattr(pooling, "_key", counted)
    runs = {"model.name": ["a", "b", "a"] * 100, "data.frames": [8, 8, 8.0] * 100}
    keys = pooling.keys_of(runs, 300, ["model.name", "data.frames"])
    assert keys == [("a", 8), ("b", 8), ("a", 8)] * 100
    assert made == [("a", 8), ("b", 8), ("a", 8.0)]


def test_a_key_of_unhashable_values_is_made_row_by_row() -> None:
    """Lists (a frame of records keeps them) are keyed as tuples."""
    runs = {"model.name": ["omniclip"] * 3, "model.options.pta_blocks": [[3, 1], [3, 1], [0]]}
    keys = pooling.keys_of(runs, 3, ["model.name", "model.options.pta_blocks"])
    assert keys == [("omniclip", (3, 1)), ("omniclip", (3, 1)), ("omniclip", (0,))]


def test_a_model_implies_its_options_only_where_the_runs_name_their_model() -> None:
    """Frozen vanilla CLIP has no PTA where its run sets none; without model names nothing is
    implied (and nothing fails)."""
    named = {"model.name": ["vanilla_clip", "omniclip"], "model.options.use_pta": [None, None]}
    assert pooling.column(named, 2, "model.options.use_pta") == [False, None]
    unnamed = {"model.options.use_pta": [None, True]}
    assert pooling.column(unnamed, 2, "model.options.use_pta") == [None, True]


@dataclasses.dataclass(frozen=True)
class Table:
    layout: str
    rows: tuple[str, ...] = ("model.name",)
    columns: tuple[str, ...] = ("eval.dataset",)


def _zero_shot_specs() -> list[dict[str, Any]]:
    return [
        {"model": {"name": "omniclip"}, "seed": seed, "protocol_options": {"targets": [target]}}
        for seed, target in [(0, "ucf101"), (1, "ucf101"), (0, "hmdb51")]
    ]


def test_a_zero_shot_table_keeps_each_target_list_in_its_own_cells() -> None:
    """A zero-shot table's cells are per target list (its columns are the evaluated datasets); a
    grid table with the same runs would average two target lists into one cell."""
    pooling.check_cells(Table("zero_shot"), _zero_shot_specs(), "zs")
    message = (
        "suite zs: the table would average runs that differ in protocol_options.targets "
        "(('ucf101',), ('hmdb51',)) into one cell (model.name=omniclip); only seeds, samplings "
        "and splits are pooled: add protocol_options.targets to the table's rows or columns, "
        "or make the runs agree"
    )
    with pytest.raises(OmniBenchError, match=f"^{re.escape(message)}$"):
        pooling.check_cells(Table("grid"), _zero_shot_specs(), "zs")


def test_nested_mappings_flatten_to_dotted_hashable_leaves() -> None:
    """An empty mapping gives no column; lists become tuples, mappings in a list sorted item
    tuples; a left-out path inside a section is left out; keys after a section are kept."""
    data = {"a": {"b": 1, "c": [1, 2], "d": {}}, "e": [{"y": 2, "x": [3]}], "f": None}
    listed = ((("x", (3,)), ("y", 2)),)
    assert pooling.dotted(data) == {"a.b": 1, "a.c": (1, 2), "e": listed, "f": None}
    assert pooling.dotted(data, "p.", leave_out={"p.a.c"}) == {
        "p.a.b": 1,
        "p.e": listed,
        "p.f": None,
    }
    shared: pooling.Flattened = {}
    assert pooling.dotted(data, leave_out={"a.c"}, shared=shared) == {
        "a.b": 1,
        "e": listed,
        "f": None,
    }


def test_a_section_shared_by_specs_is_flattened_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three specs: two share one model section, the third's model shares its options with it.
    Flattened: each spec, the two model sections and the options once each (6 calls, where
    flattening every section of every spec takes 9)."""
    options = {"use_pta": True, "pta_blocks": [1]}
    omniclip, vanilla = {"name": "omniclip", "options": options}, {"name": "v", "options": options}
    specs = [{"seed": 0, "model": omniclip}, {"seed": 1, "model": omniclip}]
    specs.append({"seed": 2, "model": vanilla})
    flattened: list[str] = []
    dotted = pooling.dotted

    def counted(data: Any, prefix: str = "", *args: Any, **kwargs: Any) -> dict[str, Any]:
        flattened.append(prefix)
        return dotted(data, prefix, *args, **kwargs)

    monkeypatch.setattr(pooling, "dotted", counted)
    assert pooling.spec_columns(specs) == {
        "seed": [0, 1, 2],
        "model.name": ["omniclip", "omniclip", "v"],
        "model.options.use_pta": [True, True, True],
        "model.options.pta_blocks": [(1,), (1,), (1,)],
    }
    assert flattened == ["", "model.", "model.options.", "", "", "model."]
