"""Ablation tables (7-11): every suite row meets the paper's row, the frozen-CLIP rows, and the Δ
to the paper's best configuration."""

from __future__ import annotations

from typing import Any

import pytest

from omnibench.report.build import build_tables
from omnibench.report.tables import DELTA, MEASURED, PUBLISHED
from omnibench.suite.files import suite_files
from omnibench.suite.load import TableSpec, load_suite
from tests.report_fixtures import cell, paper_spec, row, suite_runs


@pytest.mark.parametrize(
    ("table_key", "rows", "options", "label"),
    [
        (
            "table7",
            ("model.options.use_pta", "model.options.use_spg"),
            {"use_pta": True, "use_spg": False},
            "PTA ✓ SPG ✗",
        ),
        ("table8", ("model.options.ratio",), {"ratio": 0.125}, "1/8"),
        (
            "table9",
            ("model.options.pooling", "model.options.projector"),
            {"pooling": "max", "projector": True},
            "Max. + Projector",
        ),
        ("table10", ("model.options.pta_blocks",), {"pta_blocks": [1, 2, 3, 4, 5, 6]}, "1-6"),
        (
            "table11",
            ("model.options.combination",),
            {"combination": "attention_parallel"},
            "Attention parallel",
        ),
    ],
)
def test_ablation_rows_match_the_papers_rows(
    table_key: str, rows: tuple[str, ...], options: dict[str, Any], label: str
) -> None:
    plan = [
        (
            paper_spec(
                {
                    "protocol": "supervised",
                    "dataset": d,
                    "model": {"name": "omniclip", "options": options},
                }
            ),
            70.0,
        )
        for d in ("k400_tiny", "hmdb51")
    ]
    [table] = build_tables(
        TableSpec(table_key, "Ablation", "grid", rows, ("dataset",), ("top1",)),
        suite_runs("ablation", plan),
    )
    published = row(table, label, PUBLISHED)
    delta = row(table, label, DELTA)
    hmdb = next(c for c in table.columns if c.header == ("HMDB51",))
    assert table.cell(delta, hmdb).mean == pytest.approx(70.0 - table.cell(published, hmdb).mean)
    assert [c.header for c in table.columns] == [("K400-tiny",), ("HMDB51",)]


def test_a_trained_omniclip_without_pta_is_not_compared_with_the_frozen_clip_row() -> None:
    """Table 10's "none" row is frozen vanilla CLIP: a trained OmniCLIP without PTA and SPG gets the
    row's label (no blocks) but no Δ, and a note that says why."""
    plan = [
        (
            paper_spec(
                {
                    "protocol": "supervised",
                    "dataset": d,
                    "model": {"name": "omniclip", "options": {"use_pta": False, "use_spg": False}},
                }
            ),
            70.0,
        )
        for d in ("k400_tiny", "hmdb51")
    ]
    [table] = build_tables(
        TableSpec(
            "table10", "Ablation", "grid", ("model.options.pta_blocks",), ("dataset",), ("top1",)
        ),
        suite_runs("ablation", plan),
    )
    assert not [r for r in table.rows if r.kind == DELTA]
    assert [cell(table, "none", MEASURED, (d,)) for d in ("K400-tiny", "HMDB51")] == [
        "70.00¹",
        "70.00²",
    ]
    assert table.notes[-2:] == [
        "¹ No Δ, not compared with OmniCLIP T10 none: protocol "
        "supervised (paper eval_only); epochs 50 (paper 0).",
        "² No Δ, not compared with OmniCLIP T10 none: protocol "
        "supervised (paper eval_only); epochs 30 (paper 0).",
    ]


def test_every_ablation_suite_row_meets_its_published_row_and_the_papers_best_is_the_reference() -> (  # noqa: E501
    None
):
    for name in [n for n in suite_files() if n.startswith("ablation-")]:
        suite = load_suite(name)
        plan = [(spec, 60.0) for spec in suite.specs]
        [table] = build_tables(suite.table, suite_runs(name, plan))
        published = [r for r in table.rows if r.kind == PUBLISHED]
        best = max(
            published, key=lambda r: sum(s.mean for s in r.cells.values())
        ).method  # 77.20 / 76.64
        to_reference = [r for r in table.rows if r.source == f"Δ vs {best}"]
        kinds = [r.kind for r in table.rows if r not in to_reference]
        assert kinds == [PUBLISHED, MEASURED, DELTA] * (len(kinds) // 3), (
            name,
            [r.method for r in table.rows],
        )
        measured = [r.method for r in table.rows if r.kind == MEASURED]
        assert [r.method for r in to_reference] == [m for m in measured if m != best], name


@pytest.mark.parametrize(
    ("name", "label"), [("ablation-modules", "PTA ✗ SPG ✗"), ("ablation-location", "none")]
)
def test_ablation_rows_without_pta_and_spg_are_frozen_vanilla_clip(name: str, label: str) -> None:
    """Tables 7 and 10: the row with neither PTA nor SPG is vanilla CLIP (§4.4), evaluated untrained
    with the other rows' frames, views and test lists, and reported in the paper's row."""
    suite = load_suite(name)
    vanilla = [s for s in suite.specs if s.model.name == "vanilla_clip"]
    assert sorted(s.dataset for s in vanilla) == ["hmdb51", "k400_tiny"]
    assert all(s.protocol == "eval_only" and s.optim.epochs == 0 for s in vanilla)
    assert not [
        s
        for s in suite.specs
        if s.model.name == "omniclip"
        and not s.model.options.get("use_pta", True)
        and not s.model.options.get("use_spg", True)
    ]
    assert {(s.data.frames, s.data.test_clips, s.data.test_crops) for s in suite.specs} == {
        (8, 4, 3)
    }
    assert [dict(s.protocol_options) for s in vanilla if s.dataset == "hmdb51"] == [
        {"splits": ["test1"]}
    ]
    plan = [(spec, 40.0 if spec.model.name == "vanilla_clip" else 70.0) for spec in suite.specs]
    [table] = build_tables(suite.table, suite_runs(name, plan))
    hmdb = next(c for c in table.columns if c.header == ("HMDB51",))
    assert table.cell(row(table, label, MEASURED), hmdb).mean == 40.0
    paper = row(table, label, PUBLISHED).source
    assert table.cell(row(table, label, DELTA, f"Δ vs {paper}"), hmdb).mean == pytest.approx(
        40.0 - 40.90
    )
    [to_full] = [
        r
        for r in table.rows
        if r.method == label and r.kind == DELTA and r.source != f"Δ vs {paper}"
    ]
    assert table.cell(to_full, hmdb).mean == pytest.approx(
        40.0 - 70.0
    )  # Δ to the full model (the reference)
    assert any("vanilla CLIP" in note for note in table.notes)
