"""Report inputs and cells: blank versus missing cells, labels, the transcribed published
numbers, records and the run store as frames, and what may be pooled into one cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.config.spec import RunSpec
from omnibench.errors import OmniBenchError
from omnibench.report import cells as C
from omnibench.report.build import build_tables
from omnibench.report.labels import blocks_label, fraction_label, row_label
from omnibench.report.published import get_table, published_tables
from omnibench.report.records import collect_runs, records_frame, specs_frame, store_frame
from omnibench.report.tables import MEASURED
from omnibench.store.run_files import RECORD_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import TableSpec
from tests.report_fixtures import Plan, cell, few_shot_spec, make_record, suite_runs


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


def test_specs_frame_flattens_shared_sections_per_spec() -> None:
    """Copies of one spec share its unchanged sections (``RunSpec.plain``); each row still holds
    its own values: ratios 0.25 / 0.5 and seeds 0 / 1 in the sections that differ, PTA blocks
    (1, 2) from the shared one, the same frame as from independent ``to_dict`` copies."""
    base = RunSpec.from_dict(
        {
            "protocol": "few_shot",
            "dataset": "hmdb51",
            "model": {"name": "omniclip", "options": {"pta_blocks": [1, 2], "ratio": 0.25}},
        }
    )
    specs = [base, base.with_value("model.options.ratio", 0.5), base.with_value("seed", 1)]
    shared = specs_frame([spec.plain() for spec in specs])
    assert shared["model.options.ratio"].tolist() == [0.25, 0.5, 0.25]
    assert shared["seed"].tolist() == [base.seed, base.seed, 1]
    assert shared["model.options.pta_blocks"].tolist() == [(1, 2)] * 3
    assert shared.equals(specs_frame([spec.to_dict() for spec in specs]))
    assert dict(specs[1].plain()) == specs[1].to_dict()


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
