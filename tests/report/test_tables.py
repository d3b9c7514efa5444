"""Report tables from a fixture run store: the few-shot grid (mean ± std, pending counts, deltas,
best values), supervised and zero-shot layouts."""

from __future__ import annotations

import pytest

from omnibench.report.build import build_tables
from omnibench.report.published import published_gflops
from omnibench.report.tables import DELTA, MEASURED, PUBLISHED, ReportTable
from omnibench.suite.load import TableSpec
from tests.report_fixtures import SCOPE, Plan, cell, few_shot_spec, paper_spec, suite_runs

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


@pytest.fixture
def few_shot() -> ReportTable:
    plan = [(few_shot_spec(m, "hmdb51", k, s), v) for (m, k, s), v in FEW_SHOT.items()]
    [table] = build_tables(FEW_SHOT_TABLE, suite_runs("few-shot", plan))
    return table


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


def test_published_gflops_are_the_papers_table_rows() -> None:
    """One home: `omnibench flops` compares with the GFLOPs of published.yaml's rows, its own
    paper's table first, at 224 px only."""
    xclip = published_gflops("xclip", "ViT-B-16", 8, 224)
    assert xclip is not None and xclip["gflops"] == 145
    assert xclip["scope"].startswith("X-CLIP T1: 145; OmniCLIP T2: 145")
    assert "gflops_view_one_text" in xclip["scope"]  # X-CLIP counts video + one prompt
    omniclip = published_gflops("omniclip", "ViT-B-16-quickgelu", 8, 224)
    assert omniclip is not None and omniclip["gflops"] == 130
    assert "OmniCLIP T2: 130; OmniCLIP T3: 128" in omniclip["scope"]
    assert published_gflops("omniclip", "ViT-B-16", 16, 224)["gflops"] == 255  # type: ignore[index]
    assert published_gflops("vificlip", "ViT-B-16", 16, 224)["gflops"] == 281  # type: ignore[index]
    assert published_gflops("xclip", "ViT-B-32", 16, 224)["gflops"] == 75  # type: ignore[index]
    assert published_gflops("vanilla_clip", "ViT-B-16", 1, 224)["gflops"] == 17.58  # type: ignore[index]
    assert published_gflops("omniclip", "ViT-B-16", 8, 112) is None
    assert published_gflops("omniclip", "ViT-B-16", 4, 224) is None
    assert published_gflops("vl_prompt", "ViT-B-16", 8, 224) is None
