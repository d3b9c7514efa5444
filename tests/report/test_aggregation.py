"""Report aggregation by hand: mean ± sample std per cell, what a cell may pool, deltas."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from omnibench.report.cells import aggregate, deltas, ordered, poolable, pooled_difference
from omnibench.report.labels import canonical_value
from omnibench.report.published import Stat


def test_cells_are_the_mean_and_sample_std_of_their_runs() -> None:
    frame = pd.DataFrame(
        {
            "model.name": ["omniclip", "omniclip", "omniclip", "xclip", "xclip"],
            "dataset": ["hmdb51", "hmdb51", "ucf101", "hmdb51", "hmdb51"],
            "metrics.top1": [60.0, 64.0, 90.0, "n/a", float("nan")],
            "metrics.top5": [80.0, 84.0, 99.0, 70.0, 71.0],
        }
    )
    cells = aggregate(
        frame,
        ["model.name"],
        ["dataset"],
        {"missing": "metrics.absent", "top1": "metrics.top1", "top5": "metrics.top5"},
    )
    omniclip, xclip = cells[("omniclip",)], cells[("xclip",)]
    assert omniclip[(("hmdb51",), "top1")] == Stat(
        62.0, pytest.approx(math.sqrt(8)), 2
    )  # std of 60, 64 (ddof 1)
    assert omniclip[(("ucf101",), "top1")] == Stat(90.0, None, 1)
    assert xclip[(("hmdb51",), "top5")] == Stat(70.5, pytest.approx(math.sqrt(0.5)), 2)
    assert (("hmdb51",), "top1") not in xclip  # no number among its runs: no cell
    assert list(cells) == [("omniclip",), ("xclip",)] and list(omniclip)[0] == (("hmdb51",), "top1")


def test_cells_pool_only_seeds_samplings_and_splits() -> None:
    for path in (
        "seed",
        "data_seed",
        "protocol_options.shots_file",
        "protocol_options.eval_split",
        "protocol_options.splits",
    ):
        assert poolable(path), path
    for path in ("data.frames", "protocol_options.shots", "model.options.split_heads", "split"):
        assert not poolable(path), path
    specs = pd.DataFrame(
        {
            "model.name": ["a", "a", "b"],
            "seed": [1, 2, 1],
            "data.frames": [8, 16, 8],
            "model.options.ratio": [0.25, 0.25, 0.5],
        }
    )
    assert pooled_difference(specs, ["model.name"]) == (("a",), "data.frames", [8, 16])
    assert pooled_difference(specs, ["model.name", "data.frames"]) is None
    assert (
        pooled_difference(specs.iloc[[0, 2]], ["model.name"]) is None
    )  # one run per cell pools nothing
    assert pooled_difference(specs, ["model"]) == (
        (None,),
        "data.frames",
        [8, 16],
    )  # "model" covers model.*


def test_deltas_and_grid_order() -> None:
    ours = {((8,), "top1"): Stat(62.0, 2.0, 3), ((16,), "top1"): Stat(70.0, None, 1)}
    assert deltas(ours, {((8,), "top1"): Stat(60.5), ((32,), "top1"): Stat(1.0)}) == {
        ((8,), "top1"): Stat(1.5, None, 3)
    }
    assert ordered([("b", 2), ("a", 1), ("b", 1), ("a", 2)]) == [
        ("b", 2),
        ("b", 1),
        ("a", 2),
        ("a", 1),
    ]
    assert ordered([]) == []


def test_keys_fill_what_a_switch_or_a_model_implies_and_keep_what_a_run_sets() -> None:
    """A vanilla CLIP row without options reads as PTA ✗ SPG ✗ and no PTA blocks; a vanilla row
    that sets an option keeps it; PTA off means no PTA blocks whatever the blocks say, PTA on keeps
    them; no key paths give one empty key per run."""
    from omnibench.report.cells import keys_of

    frame = pd.DataFrame(
        {
            "model.name": ["vanilla_clip", "vanilla_clip", "omniclip", "omniclip"],
            "model.options.use_pta": [None, True, False, True],
            "model.options.use_spg": [None, None, True, True],
            "model.options.pta_blocks": [None, None, (1, 2), (3,)],
        }
    )
    paths = ["model.options.use_pta", "model.options.use_spg", "model.options.pta_blocks"]
    assert keys_of(frame, paths) == [
        (False, False, ()),
        (True, False, ()),
        (False, True, ()),
        (True, True, (3,)),
    ]
    assert keys_of(frame, []) == [(), (), (), ()]


def test_a_cell_key_may_be_missing_beside_a_set_one() -> None:
    """Rows keyed None and "x" (a column some runs leave unset) pool separately (callers order
    rows with ``ordered``)."""
    frame = pd.DataFrame({"model.options.prompt": ["x", None, "x"], "top1": [10.0, 20.0, 30.0]})
    cells = aggregate(frame, ["model.options.prompt"], [], {"top1": "top1"})
    assert set(cells) == {("x",), (None,)}
    assert cells[("x",)][((), "top1")] == Stat(20.0, math.sqrt(200), 2)
    assert cells[(None,)][((), "top1")] == Stat(20.0, None, 1)


def test_only_the_last_name_of_a_protocol_option_says_split() -> None:
    assert poolable("protocol_options.nested.eval_split")
    assert not poolable("protocol_options.split_options.k")
    assert not poolable("model.split")


def test_a_row_matches_a_published_row_by_model_when_both_name_one_else_by_label() -> None:
    """Both name a model: the models decide (a label that differs does not matter, one that agrees
    does not help); either side without a model: the label (or an alias) decides; a backbone or
    frame count both give must agree."""
    from omnibench.report.cells import MeasuredRow, matches
    from omnibench.report.published import PublishedRow

    def published(model: str | None, **fields: object) -> PublishedRow:
        return PublishedRow("X-CLIP", "X-CLIP T1", {}, model, aliases=("xclip b/16",), **fields)  # type: ignore[arg-type]

    assert matches(published("xclip"), MeasuredRow((), "Ours", model="xclip"))
    assert not matches(published("vificlip"), MeasuredRow((), "X-CLIP", model="xclip"))
    assert matches(published(None), MeasuredRow((), "x-clip", model="xclip"))
    assert not matches(published(None), MeasuredRow((), "Ours", model="xclip"))
    assert matches(published("xclip"), MeasuredRow((), "XCLIP  B/16"))
    assert not matches(published("xclip"), MeasuredRow((), "Ours"))
    row = MeasuredRow((), "x", model="xclip", info={"backbone": "ViT-B/16", "frames": 8})
    assert matches(published("xclip", backbone="ViT-B/16", frames=8), row)
    assert matches(published("xclip", frames=None), row)
    assert not matches(published("xclip", frames=32), row)
    assert not matches(published("xclip", backbone="ViT-B/32"), row)


def test_measured_rows_name_their_model_only_when_rows_are_models() -> None:
    """Rows keyed by ``model.name`` alone are that model (matched to published rows by it); rows
    keyed otherwise are not; a row without runs in the given columns, or no longer in the suite,
    plans none."""
    from omnibench.report.cells import measured_rows

    expected = pd.DataFrame({"model.name": ["xclip", "omniclip"], "dataset": ["hmdb51", "ucf101"]})
    by_model = measured_rows(expected, expected.iloc[:0], ["model.name"], {})
    assert [(r.key, r.model, r.planned) for r in by_model] == [
        (("xclip",), "xclip", None),
        (("omniclip",), "omniclip", None),
    ]
    by_both = measured_rows(expected, expected.iloc[:0], ["model.name", "dataset"], {})
    assert [r.model for r in by_both] == [None, None]
    done = pd.DataFrame({"model.name": ["vificlip"], "dataset": ["hmdb51"]})  # not in the suite now
    planned = measured_rows(expected, done, ["model.name"], {}, ["dataset"], [("hmdb51",)])
    assert [(r.key, r.planned) for r in planned] == [
        (("xclip",), frozenset({("hmdb51",)})),
        (("omniclip",), frozenset()),
        (("vificlip",), frozenset()),
    ]


def test_a_row_name_leaves_out_only_what_its_model_implies() -> None:
    """Frozen CLIP's PTA ✗ SPG ✗ are implied by the model (Table 7's last row reads "Vanilla
    CLIP"); OmniCLIP's are set by its runs and named."""
    from omnibench.report.cells import row_name

    paths = ["model.name", "model.options.use_pta", "model.options.use_spg"]
    assert row_name(paths, ("vanilla_clip", False, False)) == "Vanilla CLIP"
    assert row_name(paths, ("omniclip", False, True)) == "OmniCLIP PTA ✗ SPG ✓"
    assert row_name(paths[1:], (False, False)) == "PTA ✗ SPG ✗"


def test_canonical_values_are_computed_once_per_path_type_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memo of canonical values (thousands of runs share a few) keys on the type too: a run's
    1 and another's True are equal in Python but read "1" and "✓" in a table."""
    from omnibench.report import pooling

    calls: list[object] = []

    def counted(path: str, value: object) -> object:
        calls.append(value)
        return canonical_value(path, value)

    monkeypatch.setattr(pooling, "_CANONICAL", {})  # a fresh memo, whatever ran before
    monkeypatch.setattr(pooling, "canonical_value", counted)
    path = "model.options.use_pta"
    assert [pooling.canonical(v, path) for v in (1, True, 1, True, 2.0)] == [1, True, 1, True, 2]
    assert [type(pooling.canonical(v, path)) for v in (1, True, 2.0)] == [int, bool, int]
    assert pooling.canonical(float("nan"), path) is None and pooling.canonical(None, path) is None
    assert type(pooling.canonical(2.0, "model.options.ratio")) is float  # ratios stay floats
    assert calls == [1, True, 2.0, 2.0]  # once each path, type and value
    assert pooling.canonical([1, 2.0], path) == (1, 2)  # unhashable: computed, not remembered
