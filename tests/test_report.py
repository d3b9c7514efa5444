"""Report tables from a fixture run store: exact cells, mean ± std, pending counts, deltas,
labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnibench.cli import main
from omnibench.config.defaults import apply_defaults
from omnibench.config.spec import RunSpec
from omnibench.config.suite import TableSpec, load_suite, suite_files
from omnibench.errors import OmniBenchError
from omnibench.execution.run_files import RECORD_FILE
from omnibench.execution.store import RunStore, atomic_write_json
from omnibench.report import cells as C
from omnibench.report.build import build_tables
from omnibench.report.labels import blocks_label, canonical_dataset, fraction_label, row_label
from omnibench.report.published import dataset_facts, get_table, published_tables
from omnibench.report.records import (
    SuiteRuns,
    collect_runs,
    records_frame,
    specs_frame,
    store_frame,
)
from omnibench.report.tables import DELTA, MEASURED, PUBLISHED, ReportTable, Row

SCOPE = "video tower per view (SPG prompts included); text excluded"


def paper_spec(data: dict[str, Any]) -> RunSpec:
    """A spec with the papers' defaults beneath ``data`` (as suites build them)."""
    return RunSpec.from_dict(apply_defaults(data))


def make_record(
    spec: RunSpec,
    suite: str,
    metrics: dict[str, float],
    evaluations: list[dict[str, Any]] | None = None,
    gflops: float = 140.7,
) -> dict[str, Any]:
    """A run record in the ARCHITECTURE.md schema; without ``evaluations``, one on the dataset's
    first test split, and every dataset with its full class list (as the papers evaluate)."""
    first = dataset_facts().get(canonical_dataset(spec.dataset))
    split = first.test_splits[0] if first else "test1"
    evaluations = (
        evaluations
        if evaluations is not None
        else [
            {
                "dataset": spec.dataset,
                "split": split,
                "top1": metrics.get("top1"),
                "videos": 30,
                "skipped": 0,
            }
        ]
    )
    datasets = {spec.dataset, *(e["dataset"] for e in evaluations)}
    full = {
        d: f.classes
        for d in datasets
        if (f := dataset_facts().get(canonical_dataset(d))) is not None
    }
    return {
        "classes_per_dataset": full,
        **{
            "run_id": spec.run_id(),
            "suite": suite,
            "spec": spec.to_dict(),
            "seeds": {"seed": spec.seed, "data_seed": spec.data_seed},
            "git": {"sha": None, "dirty": None},
            "versions": {"python": "3.11", "torch": "2.13.0"},
            "files": {},
            "classes": ["a", "b"],
            "cost": {
                "gflops_video": gflops,
                "gflops_text_one": 2.9,
                "params_total": 10,
                "params_trainable": 2,
                "scope": SCOPE,
            },
            "wall_time_s": 1.0,
            "clips_per_s": 2.0,
            "skipped_videos": {"train": 0, "eval": 0},
            "leakage_override": False,
            "metrics": metrics,
            "evaluations": evaluations,
        },
    }


def few_shot_spec(model: str, dataset: str, shots: int | None, seed: int) -> RunSpec:
    if shots is None:  # Vanilla CLIP: one evaluation serves every K
        return paper_spec(
            {
                "protocol": "eval_only",
                "dataset": dataset,
                "model": {"name": model},
                "data_seed": seed,
            }
        )
    return paper_spec(
        {
            "protocol": "few_shot",
            "dataset": dataset,
            "model": {"name": model},
            "protocol_options": {"shots": shots},
            "data_seed": seed,
        }
    )


# (model, shots, data_seed) -> top1, or the state of an unfinished run
FEW_SHOT = {
    ("omniclip", 2, 0): 50.0,
    ("omniclip", 2, 1): 54.0,
    ("omniclip", 4, 0): 60.0,
    ("omniclip", 4, 1): "pending",
    ("xclip", 2, 0): 53.5,
    ("xclip", 2, 1): 52.5,
    ("xclip", 4, 0): "failed",
    ("xclip", 4, 1): "running",
    ("vanilla_clip", None, 0): 40.0,
}
FEW_SHOT_TABLE = TableSpec(
    "table5",
    "Few-shot top-1 (%)",
    "grid",
    ("model.name",),
    ("dataset", "protocol_options.shots"),
    ("top1",),
)


Plan = list[tuple[RunSpec, Any]]


def suite_runs(
    suite: str, plan: Plan, evaluations: dict[str, list[dict[str, Any]]] | None = None
) -> SuiteRuns:
    """SuiteRuns from (spec, top-1 | state) pairs: numbers become finished records, strings stay
    unfinished."""
    states, records = {}, []
    for spec, value in plan:
        done = not isinstance(value, str)
        states[spec.run_id()] = "done" if done else value
        if done:
            records.append(
                make_record(
                    spec,
                    suite,
                    {"top1": value, "top5": 90.0},
                    (evaluations or {}).get(spec.run_id()),
                )
            )
    return SuiteRuns(suite, tuple(spec.to_dict() for spec, _ in plan), states, tuple(records))


@pytest.fixture
def few_shot() -> ReportTable:
    plan = [(few_shot_spec(m, "hmdb51", k, s), v) for (m, k, s), v in FEW_SHOT.items()]
    [table] = build_tables(FEW_SHOT_TABLE, suite_runs("few-shot", plan))
    return table


def row(table: ReportTable, method: str, kind: str, source: str | None = None) -> Row:
    found = [
        r
        for r in table.rows
        if r.method == method and r.kind == kind and (source is None or r.source == source)
    ]
    assert len(found) == 1, [(r.method, r.source, r.kind) for r in table.rows]
    return found[0]


def cell(
    table: ReportTable, method: str, kind: str, header: tuple[str, ...], source: str | None = None
) -> str:
    column = next(c for c in table.columns if c.header == header)
    return table.text(row(table, method, kind, source), column)


def test_grid_cells_mean_std_missing_and_published(few_shot: ReportTable) -> None:
    assert [c.header for c in few_shot.columns] == [("HMDB51", "K=2"), ("HMDB51", "K=4")]
    assert (
        cell(few_shot, "OmniCLIP", MEASURED, ("HMDB51", "K=2")) == "52.0 ± 2.8"
    )  # sample std of 50, 54
    assert (
        cell(few_shot, "OmniCLIP", MEASURED, ("HMDB51", "K=4")) == "60.0"
    )  # one seed still pending
    assert cell(few_shot, "X-CLIP", MEASURED, ("HMDB51", "K=2")) == "53.0 ± 0.7"
    assert cell(few_shot, "X-CLIP", MEASURED, ("HMDB51", "K=4")) == "–"  # failed + running
    assert cell(few_shot, "OmniCLIP", PUBLISHED, ("HMDB51", "K=4"), "OmniCLIP T5") == "58.3"
    assert cell(few_shot, "A5", PUBLISHED, ("HMDB51", "K=2")) == "39.7"
    assert cell(few_shot, "ViFi-CLIP", PUBLISHED, ("HMDB51", "K=2"), "ViFi-CLIP T3") == "57.2"
    # Vanilla CLIP has no K: its single evaluation fills every K column.
    assert cell(few_shot, "Vanilla CLIP", MEASURED, ("HMDB51", "K=2")) == "40.0"
    assert cell(few_shot, "Vanilla CLIP", MEASURED, ("HMDB51", "K=4")) == "40.0"


def test_grid_delta_rows_follow_the_matching_published_row(few_shot: ReportTable) -> None:
    methods = [(r.method, r.kind) for r in few_shot.rows]
    at = methods.index(("OmniCLIP", PUBLISHED))
    assert methods[at + 1 : at + 3] == [("OmniCLIP", MEASURED), ("OmniCLIP", DELTA)]
    assert cell(few_shot, "OmniCLIP", DELTA, ("HMDB51", "K=2")) == "−2.1"  # 52.0 - 54.1
    assert cell(few_shot, "OmniCLIP", DELTA, ("HMDB51", "K=4")) == "+1.7"  # 60.0 - 58.3
    assert cell(few_shot, "X-CLIP", DELTA, ("HMDB51", "K=4")) == ""  # no measured value, no delta
    assert cell(few_shot, "Vanilla CLIP", DELTA, ("HMDB51", "K=2")) == "−1.9"
    assert not [r for r in few_shot.rows if r.method == "A5" and r.kind == DELTA]  # published only


def test_footer_counts_pending_and_failed_runs(few_shot: ReportTable) -> None:
    assert few_shot.footer[0] == "suite few-shot: 9 runs — 1 pending, 1 running, 6 done, 1 failed."
    assert "omnibench status few-shot" in few_shot.footer[1]


def test_best_values_and_tidy_numbers(few_shot: ReportTable) -> None:
    best = {
        (few_shot.rows[i].method, few_shot.rows[i].source, few_shot.columns[j].header)
        for i, j in few_shot.best()
    }
    assert ("ViFi-CLIP (VL prompting)", "ViFi-CLIP T7", ("HMDB51", "K=2")) in best
    tidy = few_shot.tidy()
    ours = tidy[
        (tidy["method"] == "OmniCLIP")
        & (tidy["kind"] == MEASURED)
        & (tidy["protocol_options.shots"] == 2)
    ]
    assert ours[["mean", "std", "n"]].values.tolist() == [[52.0, pytest.approx(8**0.5), 2]]


def supervised_plan() -> Plan:
    plan = []
    for dataset, model, frames, top1 in [
        ("k400", "omniclip", 8, 83.0),
        ("k400", "xclip", 8, 82.0),
        ("hmdb51", "omniclip", 8, 75.0),
        ("ucf101", "omniclip", 8, "pending"),
    ]:
        spec = paper_spec(
            {
                "protocol": "supervised",
                "dataset": dataset,
                "model": {"name": model},
                "data": {"frames": frames, "test_clips": 4, "test_crops": 3},
            }
        )
        plan.append((spec, top1))
    return plan


def test_supervised_splits_by_paper_table_with_gflops_scope_and_delta_column() -> None:
    table_spec = TableSpec(
        "table2", "Supervised", "supervised", ("model.name",), ("dataset",), ("top1", "top5")
    )
    k400, hmdb_ucf = build_tables(table_spec, suite_runs("supervised", supervised_plan()))
    assert (k400.key, hmdb_ucf.key) == ("table2", "table4")
    assert [c.header[0] for c in k400.columns] == [
        "Backbone",
        "Pre-training",
        "Frames × Views",
        "Top-1",
        "Top-5",
        "GFLOPs",
        "Δ Top-1",
    ]
    assert cell(k400, "OmniCLIP", MEASURED, ("Frames × Views",)) == "8×4×3"
    assert cell(k400, "OmniCLIP", MEASURED, ("Backbone",)) == "ViT-B/16"
    assert cell(k400, "OmniCLIP", MEASURED, ("GFLOPs",)) == "140.7"
    assert cell(k400, "OmniCLIP", PUBLISHED, ("GFLOPs",), "OmniCLIP T2") == "130"
    assert cell(k400, "OmniCLIP", MEASURED, ("Δ Top-1",)) == "−1.1"  # 83.0 - 84.1
    assert cell(k400, "X-CLIP", MEASURED, ("Δ Top-1",)) == "−1.8"  # vs OmniCLIP T2's X-CLIP (83.8)
    assert len([r for r in k400.rows if r.source == "X-CLIP T1"]) == 5
    assert f"GFLOPs of omnibench rows: {SCOPE}." in k400.notes
    assert cell(hmdb_ucf, "OmniCLIP", MEASURED, ("HMDB51", "Top-1")) == "75.00"
    assert cell(hmdb_ucf, "OmniCLIP", MEASURED, ("HMDB51", "Δ Top-1")) == "−1.64"
    assert cell(hmdb_ucf, "OmniCLIP", MEASURED, ("UCF101", "Top-1")) == "–"
    assert hmdb_ucf.footer[0] == "suite supervised: 4 runs — 1 pending, 3 done."


def test_supervised_match_needs_the_same_frames() -> None:
    spec = paper_spec(
        {
            "protocol": "supervised",
            "dataset": "ssv2",
            "model": {"name": "omniclip"},
            "data": {"frames": 16, "test_clips": 4, "test_crops": 3},
        }
    )
    table_spec = TableSpec("table3", "SSv2", "supervised", ("model.name",), ("dataset",), ("top1",))
    [ssv2] = build_tables(table_spec, suite_runs("supervised", [(spec, 66.3)]))
    order = [
        (r.method, r.source, r.text.get("frames_views"))
        for r in ssv2.rows
        if r.method == "OmniCLIP"
    ]
    assert order == [
        ("OmniCLIP", "OmniCLIP T3", "8×4×3"),
        ("OmniCLIP", "OmniCLIP T3", "16×4×3"),
        ("OmniCLIP", "omnibench", "16×4×3"),
    ]
    assert cell(ssv2, "OmniCLIP", MEASURED, ("Δ Top-1",)) == "−1.0"  # vs the 16-frame row (67.3)


def test_zero_shot_mean_std_over_splits_and_columns_from_targets() -> None:
    trained = paper_spec(
        {
            "protocol": "zero_shot",
            "dataset": "k400",
            "model": {"name": "omniclip"},
            "protocol_options": {"targets": ["hmdb51", "ucf101"]},
        }
    )
    frozen = paper_spec(
        {
            "protocol": "eval_only",
            "dataset": "k400",
            "model": {"name": "vanilla_clip"},
            "protocol_options": {"targets": ["hmdb51", "ucf101"]},
        }
    )
    evaluations = [
        {
            "dataset": d,
            "split": f"test{i}",
            "top1": top1,
            "top5": 90.0,
            "mean_class": top1,
            "videos": 30,
        }
        for d, values in (("hmdb51", (50.0, 52.0, 54.0)), ("ucf101", (70.0, 70.0, 76.0)))
        for i, top1 in enumerate(values, 1)
    ]
    runs = suite_runs(
        "zero-shot", [(trained, 52.0), (frozen, "pending")], {trained.run_id(): evaluations}
    )
    table_spec = TableSpec(
        "table6", "Zero-shot", "zero_shot", ("model.name",), ("eval.dataset",), ("top1",)
    )
    [table] = build_tables(table_spec, runs)
    assert cell(table, "OmniCLIP", MEASURED, ("HMDB51", "Top-1")) == "52.0 ± 2.0"
    assert cell(table, "OmniCLIP", MEASURED, ("UCF101", "Top-1")) == "72.0 ± 3.5"
    assert cell(table, "OmniCLIP", MEASURED, ("HMDB51", "Δ Top-1")) == "+0.7"  # 52.0 - 51.3
    assert cell(table, "OmniCLIP", PUBLISHED, ("UCF101", "Top-1"), "OmniCLIP T6") == "73.2 ± 1.0"
    assert cell(table, "Vanilla CLIP", MEASURED, ("HMDB51", "Top-1")) == "–"
    # Nothing finished yet: the columns still come from the runs' targets.
    [pending] = build_tables(table_spec, suite_runs("zero-shot", [(trained, "pending")]))
    assert [c.header for c in pending.columns][::2] == [("HMDB51", "Top-1"), ("UCF101", "Top-1")]


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


def test_cells_no_run_fills_are_blank_not_missing() -> None:
    specs = [
        RunSpec.from_dict(
            {"protocol": "supervised", "dataset": "synthetic", "model": {"name": "omniclip"}}
        ),
        RunSpec.from_dict(
            {
                "protocol": "few_shot",
                "dataset": "synthetic",
                "model": {"name": "omniclip"},
                "protocol_options": {"shots": 4},
            }
        ),
        RunSpec.from_dict(
            {"protocol": "supervised", "dataset": "synthetic", "model": {"name": "xclip"}}
        ),
    ]
    table_spec = TableSpec(
        None, "Demo", "grid", ("model.name",), ("protocol", "protocol_options.shots"), ("top1",)
    )
    [table] = build_tables(
        table_spec, suite_runs("demo", [(specs[0], 30.0), (specs[1], "pending"), (specs[2], 20.0)])
    )
    assert [c.header for c in table.columns] == [("Supervised", ""), ("Few-shot", "K=4")]
    assert cell(table, "OmniCLIP", MEASURED, ("Few-shot", "K=4")) == "–"  # planned, not finished
    assert cell(table, "X-CLIP", MEASURED, ("Few-shot", "K=4")) == ""  # the suite runs none
    assert (
        cell(table, "X-CLIP", MEASURED, ("Supervised", "")) == "20.00"
    )  # no paper table: 2 decimals
    assert all(r.kind == MEASURED for r in table.rows) and table.key == "table"


def test_labels_read_like_the_paper() -> None:
    assert fraction_label(0.25) == "1/4" and fraction_label(1.0) == "1"
    assert (
        blocks_label([1, 2, 3]) == "1-3"
        and blocks_label([1, 2, 7]) == "1-2, 7"
        and blocks_label([]) == "none"
    )
    assert row_label(["model.name"], ["vl_prompt"]) == "ViFi-CLIP (VL prompting)"
    assert row_label(["model.options.pooling", "model.options.projector"], ["avg", False]) == "Avg."
    assert (
        row_label(["model.name", "model.options.tune"], ["vificlip", "image"])
        == "ViFi-CLIP image-FT"
    )


def test_published_numbers_are_transcribed_with_their_source() -> None:
    tables = published_tables()
    assert {f"table{n}" for n in range(2, 12)} <= set(tables)
    assert all(other in tables for t in tables.values() for other in t.also)
    t9 = {r.method: r.cells for r in get_table("table9").rows}
    assert t9["Avg."][(("hmdb51",), "top1")].mean == 75.64
    t6 = {r.method: r.cells for r in get_table("table6").rows}
    assert (
        t6["OmniCLIP"][(("ucf101",), "top1")].mean,
        t6["OmniCLIP"][(("ucf101",), "top1")].std,
    ) == (73.2, 1.0)
    t3 = [r for r in get_table("table3").rows if r.method == "OmniCLIP"]
    assert [
        (r.frames, r.cells[(("ssv2",), "top1")].mean, r.cells[(("ssv2",), "gflops")].mean)
        for r in t3
    ] == [(8, 67.0, 128.0), (16, 67.3, 255.0)]
    assert (
        get_table("table5").source == "OmniCLIP T5"
        and "CVPR 2023" in get_table("vificlip-table3").citation()
    )


def test_records_frame_flattens_spec_paths_and_sections() -> None:
    spec = RunSpec.from_dict(
        {
            "protocol": "few_shot",
            "dataset": "hmdb51",
            "protocol_options": {"shots": 8},
            "model": {"name": "omniclip", "options": {"pta_blocks": [1, 2]}},
        }
    )
    frame = records_frame([make_record(spec, "s", {"top1": 61.5})])
    assert frame.loc[0, "model.name"] == "omniclip" and frame.loc[0, "protocol_options.shots"] == 8
    assert frame.loc[0, "model.options.pta_blocks"] == (1, 2)
    assert frame.loc[0, "metrics.top1"] == 61.5 and frame.loc[0, "cost.gflops_video"] == 140.7


def test_collect_runs_reads_states_and_records_from_the_store(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    specs = [few_shot_spec("omniclip", "hmdb51", k, 0) for k in (2, 4, 8, 16)]
    for spec in specs[:3]:
        store.prepare("few-shot", spec)
    atomic_write_json(
        store.run_dir("few-shot", specs[0].run_id()) / RECORD_FILE,
        make_record(specs[0], "few-shot", {"top1": 1.0}),
    )
    store.write_status("few-shot", specs[1].run_id(), "failed", error="CUDA out of memory")
    store.write_status(
        "few-shot", specs[2].run_id(), "done"
    )  # a status without a record did not finish
    old = few_shot_spec("xclip", "hmdb51", 2, 5)
    store.prepare("few-shot", old)
    atomic_write_json(
        store.run_dir("few-shot", old.run_id()) / RECORD_FILE,
        make_record(old, "few-shot", {"top1": 2.0}),
    )
    runs = collect_runs("few-shot", specs, store)
    assert [runs.states[s.run_id()] for s in specs] == [
        "done",
        "failed",
        "failed",
        "new",
    ]  # as `status` names them
    assert [r["run_id"] for r in runs.records] == [specs[0].run_id()] and runs.stale == 1
    assert json.loads(json.dumps(runs.expected[0])) == specs[0].to_dict()
    frame = store_frame(store, "few-shot")
    assert sorted(frame["metrics.top1"]) == [1.0, 2.0] and set(frame["model.name"]) == {
        "omniclip",
        "xclip",
    }


def supervised_runs(
    frames: tuple[int, ...], splits: tuple[int, ...], seeds: tuple[int, ...]
) -> Plan:
    """HMDB51 OmniCLIP runs over frames × split × seed; top-1 = 70 + split + seed / 10."""
    return [
        (
            RunSpec.from_dict(
                {
                    "protocol": "supervised",
                    "dataset": "hmdb51",
                    "data": {"frames": f},
                    "seed": seed,
                    "protocol_options": {"train_split": f"train{s}", "eval_split": f"test{s}"},
                }
            ),
            70.0 + s + seed / 10,
        )
        for f in frames
        for s in splits
        for seed in seeds
    ]


GRID_TABLE = TableSpec(None, "HMDB51", "grid", ("model.name",), ("dataset",), ("top1",))


def test_cells_pool_seeds_and_splits() -> None:
    [table] = build_tables(
        GRID_TABLE, suite_runs("pooled", supervised_runs((8,), (1, 2, 3), (0, 1)))
    )
    tidy = table.tidy()
    assert tidy[["mean", "n"]].values.tolist() == [
        [72.05, 6]
    ]  # mean of 71, 72, 73 (+0 / +0.1 per seed)


def test_cells_refuse_to_pool_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suite that varies frames by mistake would be averaged into one cell: the report and
    validate refuse."""
    runs = suite_runs("mixed", supervised_runs((8, 16), (1,), (0,)))
    with pytest.raises(
        OmniBenchError,
        match=r"^suite mixed: the table would average runs that differ in data\.frames "
        r"\(8, 16\) into one cell \(model\.name=omniclip, dataset=hmdb51\)",
    ):
        build_tables(GRID_TABLE, runs)
    by_frames = TableSpec(
        None, "HMDB51", "grid", ("model.name", "data.frames"), ("dataset",), ("top1",)
    )
    assert [
        r.label
        for r in C.measured_rows(
            specs_frame(runs.expected), records_frame(runs.records), by_frames.rows, {}
        )
    ] == ["OmniCLIP 8f", "OmniCLIP 16f"]
    build_tables(by_frames, runs)  # frames as a row: nothing pooled
    suite = tmp_path / "mixed.yaml"
    suite.write_text(
        "name: mixed\ndescription: frames vary by mistake\n"
        "table: {paper_table: null, title: t, layout: grid, rows: "
        "[model.name], columns: [dataset], metrics: [top1]}\n"
        "base: {protocol: supervised, dataset: hmdb51}\ngrid: "
        "{data.frames: [8, 16], seed: [0, 1]}\n"
    )
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["validate", str(suite)]) == 2
    [line] = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(
        f"error: {suite}: suite mixed: the table would average runs that differ in data.frames"
    )
