"""Report caveats: Δ against a published row only in the paper's setting (else a footnote naming
what differs), and cells whose runs skipped broken videos marked † in every format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.image
import pandas as pd
import pytest
from rich.console import Console

from omnibench.report import latex, render
from omnibench.report.build import build_tables
from omnibench.report.plots import write_plots
from omnibench.report.tables import DELTA, MEASURED, ReportTable
from omnibench.suite.load import TableSpec
from tests.report_fixtures import cell, make_record, paper_spec, row, suite_runs

FEW_SHOT = TableSpec(
    "table5",
    "Few-shot top-1 (%)",
    "grid",
    ("model.name",),
    ("dataset", "protocol_options.shots"),
    ("top1",),
)
K2 = ("HMDB51", "K=2")


def few_shot(**changes: Any) -> Any:
    return paper_spec(
        {
            "protocol": "few_shot",
            "dataset": "hmdb51",
            "model": {"name": "omniclip"},
            "protocol_options": {"shots": 2},
            **changes,
        }
    )


def table_of(records: list[dict[str, Any]], table_spec: TableSpec = FEW_SHOT) -> ReportTable:
    runs = suite_runs("s", [])
    [table] = build_tables(
        table_spec,
        type(runs)(
            "s",
            tuple(r["spec"] for r in records),
            {r["run_id"]: "done" for r in records},
            tuple(records),
        ),
    )
    return table


def test_the_papers_setting_gets_a_delta() -> None:
    table = table_of([make_record(few_shot(), "s", {"top1": 50.0})])
    assert cell(table, "OmniCLIP", MEASURED, K2) == "50.0"
    assert cell(table, "OmniCLIP", DELTA, K2, "Δ vs OmniCLIP T5") == "−4.1"  # 50.0 - 54.1
    assert not [n for n in table.notes if "No Δ" in n]


def test_a_tiny_random_backbone_on_4_classes_gets_no_delta_but_a_note_saying_why() -> None:
    spec = few_shot(
        model={"name": "omniclip", "backbone": "omnibench-tiny-vit", "pretrained": None},
        data={"frames": 8, "input_size": 32, "short_side": 32},
        optim={"epochs": 2},
    )
    record = make_record(spec, "s", {"top1": 25.0})
    record["classes_per_dataset"] = {"hmdb51": 4}
    table = table_of([record])
    assert cell(table, "OmniCLIP", MEASURED, K2) == "25.0¹"
    assert not [r for r in table.rows if r.method == "OmniCLIP" and r.kind == DELTA]
    assert (
        "¹ No Δ, not compared with OmniCLIP T5 OmniCLIP: "
        "backbone omnibench-tiny-vit (paper ViT-B/16); "
        "pretrained none (paper CLIP-400M); frames 8 (paper "
        "32); epochs 2 (paper 50); classes 4 (paper 51)."
    ) in table.notes
    assert row(table, "OmniCLIP", MEASURED).caveats  # and the CSV says it per cell
    tidy = table.tidy()
    assert (
        tidy.loc[(tidy["kind"] == MEASURED) & (tidy["method"] == "OmniCLIP"), "not_compared"]
        .str.contains("classes 4 \\(paper 51\\)")
        .all()
    )


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"limit": 2}, "at most 2 videos per class (--limit)"),
        ({"data": {"frames": 32, "test_clips": 4, "test_crops": 3}}, "views 4x3 (paper 1x1)"),
        (
            {"model": {"name": "omniclip", "pretrained": "/data/clip/ViT-B-16.pt"}},
            "pretrained /data/clip/ViT-B-16.pt (paper CLIP-400M)",
        ),
        ({"protocol_options": {"shots": 2, "eval_split": "test2"}}, "splits test2 (paper test1)"),
    ],
)
def test_each_setting_difference_removes_the_delta(changes: dict[str, Any], why: str) -> None:
    spec = few_shot(**changes)
    split = spec.protocol_options.get("eval_split", "test1")
    record = make_record(
        spec,
        "s",
        {"top1": 50.0},
        [{"dataset": "hmdb51", "split": split, "top1": 50.0, "videos": 30, "skipped": 0}],
    )
    table = table_of([record])
    assert cell(table, "OmniCLIP", MEASURED, K2) == "50.0¹"
    assert [n for n in table.notes if n.startswith("¹")] == [
        f"¹ No Δ, not compared with OmniCLIP T5 OmniCLIP: {why}."
    ]


def test_a_local_copy_of_the_published_weights_counts_as_the_papers_weights() -> None:
    spec = few_shot(model={"name": "omniclip", "pretrained": "/data/clip/ViT-B-16.pt"})
    copy = make_record(spec, "s", {"top1": 50.0})
    copy["weights"] = {
        "pretrained": "/data/clip/ViT-B-16.pt",
        "kind": "TorchScript archive",
        "activation": "quick_gelu",
        "activation_source": "archive",
        "published_as": "openai",
    }
    assert cell(table_of([copy]), "OmniCLIP", DELTA, K2, "Δ vs OmniCLIP T5") == "−4.1"
    other = {**copy, "weights": {**copy["weights"], "published_as": None}}
    assert cell(table_of([other]), "OmniCLIP", MEASURED, K2) == "50.0¹"


def test_records_without_a_class_count_per_dataset_use_their_class_list() -> None:
    record = make_record(few_shot(), "s", {"top1": 50.0})
    del record["classes_per_dataset"]  # written before omnibench recorded it
    record["classes"] = [f"c{i}" for i in range(51)]
    assert cell(table_of([record]), "OmniCLIP", DELTA, K2, "Δ vs OmniCLIP T5") == "−4.1"
    record["classes"] = record["classes"][:4]
    assert cell(table_of([record]), "OmniCLIP", MEASURED, K2) == "50.0¹"


def test_supervised_and_zero_shot_deltas_need_the_papers_epochs() -> None:
    short = paper_spec(
        {
            "protocol": "supervised",
            "dataset": "k400",
            "model": {"name": "omniclip"},
            "optim": {"epochs": 5},
        }
    )
    supervised = TableSpec(
        "table2", "Supervised", "supervised", ("model.name",), ("dataset",), ("top1", "top5")
    )
    table = table_of([make_record(short, "s", {"top1": 80.0, "top5": 95.0})], supervised)
    assert cell(table, "OmniCLIP", MEASURED, ("Δ Top-1",)) == ""
    assert cell(table, "OmniCLIP", MEASURED, ("Top-1",)) == "80.0¹"
    assert "¹ No Δ, not compared with OmniCLIP T2 OmniCLIP: epochs 5 (paper 50)." in table.notes


def skipped_record(eval_skipped: int, train_skipped: int = 0) -> dict[str, Any]:
    record = make_record(
        few_shot(),
        "s",
        {"top1": 50.0},
        [
            {
                "dataset": "hmdb51",
                "split": "test1",
                "top1": 50.0,
                "videos": 16 - eval_skipped,
                "skipped": eval_skipped,
            }
        ],
    )
    record["skipped_videos"] = {"train": train_skipped, "eval": eval_skipped}
    record["train"] = {"split": "hmdb51/train1", "videos": 102, "epochs": 50, "clips": 5000}
    return record


def test_skipped_videos_mark_the_cell_in_every_format(tmp_path: Path) -> None:
    table = table_of(
        [skipped_record(2, 1), make_record(few_shot(data_seed=1), "s", {"top1": 54.0})]
    )
    text = cell(table, "OmniCLIP", MEASURED, K2)
    # two draws; one skipped 2 of its 16 test videos (the other none of 30) and 1 of 102 training
    # videos
    assert text == "52.0 ± 2.8†"
    assert (
        cell(table, "OmniCLIP", DELTA, K2, "Δ vs OmniCLIP T5") == "−2.1"
    )  # skipped, but the same setting
    note = (
        "† Broken videos were skipped (counts in record.json, each video in predictions.csv): "
        "OmniCLIP HMDB51 K=2: 2/46 eval, 1/102 train."
    )
    assert note in table.notes
    console = Console(record=True, width=250)
    render.print_tables([table], console)
    terminal = " ".join(console.export_text().split())
    assert "52.0 ± 2.8†" in terminal and "K=2: 2/46 eval, 1/102 train." in terminal
    assert "52.0 ± 2.8†" in render.markdown([table]) and note in render.markdown([table])
    assert r"52.0 $\pm$ 2.8\textsuperscript{\dag}" in latex.document([table])
    [csv] = render.write_csv([table], tmp_path)
    tidy = pd.read_csv(csv, keep_default_na=False)
    assert tidy.loc[
        (tidy["kind"] == MEASURED) & (tidy["method"] == "OmniCLIP"), "skipped"
    ].tolist() == ["2/46 eval, 1/102 train"]
    [png] = write_plots([table], tmp_path)
    assert matplotlib.image.imread(png).shape[:2] == (450, 1000)


def test_zero_shot_cells_count_the_skipped_videos_of_their_own_dataset() -> None:
    spec = paper_spec(
        {
            "protocol": "zero_shot",
            "dataset": "k400",
            "model": {"name": "omniclip"},
            "protocol_options": {"targets": ["hmdb51", "ucf101"]},
        }
    )
    evaluations = [
        {"dataset": d, "split": f"test{i}", "top1": 50.0, "videos": 30 - skip, "skipped": skip}
        for d, skip in (("hmdb51", 1), ("ucf101", 0))
        for i in (1, 2, 3)
    ]
    record = make_record(spec, "s", {"top1": 50.0}, evaluations)
    record["skipped_videos"] = {"train": 0, "eval": 3}
    table = table_of(
        [record],
        TableSpec("table6", "ZS", "zero_shot", ("model.name",), ("eval.dataset",), ("top1",)),
    )
    assert (
        cell(table, "OmniCLIP", MEASURED, ("HMDB51", "Top-1")) == "50.0 ± 0.0†"
    )  # over the three splits
    assert cell(table, "OmniCLIP", MEASURED, ("UCF101", "Top-1")) == "50.0 ± 0.0"
    assert (
        cell(table, "OmniCLIP", MEASURED, ("HMDB51", "Δ Top-1")) == "−1.3"
    )  # 50.0 - 51.3: all three splits, as the paper
    assert any(n.endswith("OmniCLIP HMDB51: 3/90 eval.") for n in table.notes)


def prepared_record(spec: Any, top1: float, short_side: int | None) -> dict[str, Any]:
    record = make_record(spec, "s", {"top1": top1})
    prepared = (
        None
        if short_side is None
        else {"source": "/data/hmdb51", "short_side": short_side, "keyframe_interval": 8}
    )
    record["video_roots"] = {"hmdb51": {"root": "/x/hmdb51", "prepared": prepared}}
    return record


def test_prepared_and_original_videos_in_one_table_are_marked() -> None:
    k4 = few_shot(protocol_options={"shots": 4})
    table = table_of([prepared_record(few_shot(), 50.0, 320), prepared_record(k4, 60.0, None)])
    assert cell(table, "OmniCLIP", MEASURED, K2) == "50.0‡"
    assert cell(table, "OmniCLIP", MEASURED, ("HMDB51", "K=4")) == "60.0"
    assert (
        "‡ Read videos re-encoded by omnibench data prepare, while other cells read the original "
        "videos: a difference between them is partly the input's (OmniCLIP HMDB51 K=2: hmdb51 "
        "short side 320, keyframe every 8 frames)."
    ) in table.notes
    tidy = table.tidy()
    assert set(tidy.loc[tidy["kind"] == MEASURED, "prepared_videos"]) == {
        "",
        "hmdb51 short side 320, keyframe every 8 frames",
    }


def test_a_cell_pooling_prepared_and_original_runs_is_marked() -> None:
    table = table_of(
        [
            prepared_record(few_shot(), 50.0, 320),
            prepared_record(few_shot(data_seed=1), 54.0, None),
        ]
    )
    assert cell(table, "OmniCLIP", MEASURED, K2) == "52.0 ± 2.8‡"
    [note] = [n for n in table.notes if n.startswith("‡")]
    assert "pooled with runs on originals" in note


def test_a_table_read_entirely_from_prepared_videos_says_so_without_marks() -> None:
    k4 = few_shot(protocol_options={"shots": 4})
    table = table_of([prepared_record(few_shot(), 50.0, 320), prepared_record(k4, 60.0, 320)])
    assert cell(table, "OmniCLIP", MEASURED, K2) == "50.0"
    assert (
        "Every measured cell read videos prepared by omnibench data prepare (hmdb51 short side "
        "320, keyframe every 8 frames)."
    ) in table.notes
    assert not [
        n for n in table_of([make_record(few_shot(), "s", {"top1": 1.0})]).notes if "prepare" in n
    ]
