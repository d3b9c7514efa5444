"""No run reports a number omnibench cannot stand behind: unusable data fails the run in one line,
skipped videos are counted and bounded, and a record whose annotation files changed is stale.

Real tiny models on generated videos through the CLI (inline executor). The synthetic data has
3 classes: ``train.txt`` lists 9 videos (3 per class), each ``test*.txt`` 3.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.store.acceptance import record_problems
from omnibench.store.run_files import TRAIN_STEPS_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.store.train_steps import read_train_steps
from omnibench.suite.load import load_suite
from tests.conftest import JUNK, UNDECODABLE_MP4, TinyData, cpu_options

SUITE = """\
name: trust
description: acceptance tests
table: {paper_table: null, title: trust, layout: grid, rows: [model.name], columns: [protocol], \
metrics: [top1]}
base:
  dataset: synthetic
  model: {backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 2, batch_size: 3, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0}
  protocol_options: {eval_split: test1}
grid:
  protocol: [supervised]
  model.name: [vificlip]
"""
EVAL_ONLY = (
    SUITE.replace("protocol_options: {eval_split: test1}", "protocol_options: {splits: [test1]}")
    .replace("protocol: [supervised]", "protocol: [eval_only]")
    .replace("model.name: [vificlip]", "model.name: [vanilla_clip]")
)


@pytest.fixture()
def data_root(tiny_data: TinyData, tmp_path: Path) -> Path:
    """A private copy of the generated data (tests edit its lists and videos)."""
    return tiny_data(into=tmp_path / "data")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")


def _suite(tmp_path: Path, text: str = SUITE, **base: object) -> Path:
    lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in base.items())
    path = tmp_path / "trust.yaml"
    path.write_text(text.replace("base:\n", f"base:\n{lines}"))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _run(
    capsys: pytest.CaptureFixture[str], suite: Path, data_root: Path, *extra: str
) -> tuple[int, str, RunStore, str]:
    store = RunStore(suite.parent / "results")
    code, out = _cli(
        capsys,
        "run",
        str(suite),
        "--results",
        str(store.root),
        *cpu_options(data_root),
        *extra,
    )
    return code, out, store, load_suite(suite).specs[0].run_id()


def _corrupt(root: Path, list_name: str, count: int, content: bytes = UNDECODABLE_MP4) -> list[str]:
    """Overwrite the first ``count`` videos of a list with ``content`` (by default bytes no decoder
    reads inside a whole MP4 container); their list entries."""
    entries = (root / list_name).read_text().splitlines()[:count]
    for entry in entries:
        (root / entry.split()[0]).write_bytes(content)
    return entries


def test_a_list_naming_avi_where_the_disk_has_mp4_fails_before_training(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train_list = data_root / "synthetic" / "train.txt"
    train_list.write_text(train_list.read_text().replace(".mp4", ".avi"))
    code, out, store, run_id = _run(capsys, _suite(tmp_path), data_root)
    assert code == 1 and "Traceback" not in out
    error = store.read_status("trust", run_id).error
    assert error.startswith("synthetic/train: none of the 9 videos listed exists; first: ")
    assert f"object_moving_left_000.avi (listed at {train_list}:1;" in error
    assert (
        "the folder has object_moving_left_000.mp4: the list names '.avi', the disk '.mp4'" in error
    )
    assert (
        not store.is_done("trust", run_id)
        and "loss" not in store.log_path("trust", run_id).read_text()
    )


def test_unreadable_test_videos_fail_the_run_before_it_trains(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Test videos that cannot be opened (a truncated copy that lost its MP4 header, an empty
    file, bytes of no container) are found from their structure before training, and count
    against max_skipped as missing ones do."""
    listed = [
        data_root / "synthetic" / line.split()[0]
        for line in (data_root / "synthetic" / "test1.txt").read_text().splitlines()
    ]
    whole = listed[0].read_bytes()
    listed[0].write_bytes(whole[: len(whole) // 2])  # an interrupted copy: its moov box is gone
    listed[1].write_bytes(b"")
    code, out, store, run_id = _run(capsys, _suite(tmp_path), data_root)
    assert code == 1
    error = store.read_status("trust", run_id).error
    assert re.match(
        r"synthetic/test1: 2 of 3 \(66.7%\) videos missing or unreadable, more than max_skipped "
        rf"1%; first: {re.escape(str(listed[0]))} \(listed at .*test1.txt:1; cannot open: "
        rf"truncated MP4/MOV: its 'mdat' at byte \d+ ends at byte \d+, past the end of the file "
        rf"\({len(whole) // 2} bytes\)\)",
        error,
    ), error
    assert "loss" not in store.log_path("trust", run_id).read_text()  # no training was spent
    code, out, store, run_id = _run(capsys, _suite(tmp_path, max_skipped=0.7), data_root)
    assert code == 0 and "2/3 eval" in out and store.is_done("trust", run_id)  # counted
    _corrupt(data_root / "synthetic", "test1.txt", 1, content=JUNK)  # no container at all
    code, out, store, run_id = _run(capsys, _suite(tmp_path), data_root, "--force")
    error = store.read_status("trust", run_id).error
    assert code == 1 and "test1.txt:1; cannot open: " in error and "loss" not in out, error


def test_a_split_without_any_readable_video_fails_instead_of_reporting_nan(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _corrupt(data_root / "synthetic", "test1.txt", 3)
    code, out, store, run_id = _run(capsys, _suite(tmp_path, EVAL_ONLY), data_root)
    assert code == 1
    error = store.read_status("trust", run_id).error
    assert (
        error.startswith(
            f"run {run_id}: synthetic/test1: 0 videos evaluated (3 of 3 (100%) skipped as broken; "
            "first: "
        )
        and "object_moving_left_003.mp4" in error
    )
    assert not store.is_done("trust", run_id) and "nan" not in out
    assert (
        store.run_dir("trust", run_id) / "predictions.csv"
    ).is_file()  # kept: it lists each broken video


def test_training_on_broken_videos_counts_each_once_and_fails_above_max_skipped(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _corrupt(data_root / "synthetic", "train.txt", 1)  # 1 of 9 = 11.1%: over the default 1%
    code, out, store, run_id = _run(capsys, _suite(tmp_path), data_root)
    assert code == 1
    assert store.read_status("trust", run_id).error == (
        f"run {run_id}: training split synthetic/train: 1 "
        "of 9 (11.1%) videos skipped as broken, more than "
        "max_skipped 1%; first: see log.txt; fix the data or raise max_skipped in the suite"
    )
    assert not store.is_done("trust", run_id)

    tolerant = _suite(tmp_path, max_skipped=0.2)
    code, out, store, run_id = _run(capsys, tolerant, data_root)
    assert code == 0, out
    record = store.read_record("trust", run_id)
    assert record["skipped_videos"] == {
        "train": 1,
        "eval": 0,
    }  # one video, though read in each of 2 epochs
    assert record["train"]["videos"] == 9 and record["spec"]["max_skipped"] == 0.2
    assert "1/9 train" in out[out.rindex("trust: 1 run") :]


def test_missing_test_videos_over_the_limit_fail_early_and_skips_show_in_status(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = data_root / "synthetic"
    videos = sorted(p.relative_to(root) for p in root.glob("videos/*/*.mp4"))
    labels = {"left": 0, "right": 1, "up": 2}
    lines = [f"{v} {labels[v.parent.name.rsplit('_', 1)[1]]}" for v in videos[:14]]
    (root / "test1.txt").write_text(
        "\n".join([*lines, "videos/gone/a.mp4 0", "videos/gone/b.mp4 1"]) + "\n"
    )
    code, out, store, run_id = _run(capsys, _suite(tmp_path, EVAL_ONLY), data_root)
    assert code == 1
    assert store.read_status("trust", run_id).error == (
        "synthetic/test1: 2 of 16 (12.5%) videos missing, more "
        f"than max_skipped 1%; first: {root}/videos/gone/a.mp4 "
        f"(listed at {root / 'test1.txt'}:15; folder {root}/videos/gone does not exist); "
        "fix the data or raise max_skipped in the suite"
    )

    code, out, store, run_id = _run(
        capsys, _suite(tmp_path, EVAL_ONLY, max_skipped=0.125), data_root
    )
    assert code == 0, out
    assert store.read_record("trust", run_id)["evaluations"][0]["first_skipped"].endswith(
        "a.mp4: missing video file"
    )
    assert "2/16 eval" in out[out.rindex("trust: 1 run") :]
    code, out = _cli(capsys, "status", str(tmp_path / "trust.yaml"), "--results", str(store.root))
    assert "skipped" in out and "2/16 eval" in out
    code, out = _cli(capsys, "ls", "runs", "--results", str(store.root), "--json")
    assert json.loads(out)[0]["skipped"] == {
        "train": 0,
        "train_listed": None,
        "eval": 2,
        "eval_listed": 16,
    }


def test_a_run_whose_annotation_file_changed_is_stale_and_reruns(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path, EVAL_ONLY)
    code, out, store, run_id = _run(capsys, suite, data_root)
    assert code == 0, out
    test_list = data_root / "synthetic" / "test1.txt"
    first = store.read_record("trust", run_id)
    assert first["evaluations"][0]["videos"] == 3

    test_list.write_text(
        test_list.read_text() + (data_root / "synthetic" / "test2.txt").read_text()
    )  # 3 -> 6 videos
    code, out = _cli(capsys, "status", str(suite), "--results", str(store.root), "--json")
    (row,) = json.loads(out)
    assert (
        row["state"] == "stale"
        and row["error"] == "annotation file(s) changed since the run: test1.txt"
    )
    code, out, *_ = _run(capsys, suite, data_root, "--dry-run")
    assert (
        "rerun (annotation file(s) changed since the run: test1.txt)" in out
        and "1 would execute" in out
    )

    code, out, *_ = _run(capsys, suite, data_root)
    assert code == 0, out
    second = store.read_record("trust", run_id)
    assert (
        second["evaluations"][0]["videos"] == 6
        and store.read_status("trust", run_id).extra["starts"] == 1
    )
    shutil.rmtree(data_root)  # annotation files that are gone cannot be checked: the run stays done
    code, out = _cli(capsys, "status", str(suite), "--results", str(store.root), "--json")
    assert json.loads(out)[0]["state"] == "done"


def test_a_stored_record_with_a_nan_metric_is_not_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path, EVAL_ONLY)
    store, spec = RunStore(tmp_path / "results"), load_suite(suite).specs[0]
    run_dir = store.prepare("trust", spec)
    record = {
        "run_id": spec.run_id(),
        "spec": spec.to_dict(),
        "metrics": {"top1": float("nan")},
        "evaluations": [{"dataset": "synthetic", "split": "test1", "videos": 0, "skipped": 16}],
    }
    atomic_write_json(run_dir / "record.json", record)  # as an older omnibench wrote it
    store.write_status("trust", spec.run_id(), "done")
    code, out = _cli(capsys, "status", str(suite), "--results", str(store.root), "--json")
    (row,) = json.loads(out)
    assert row["state"] == "failed"
    assert row["error"] == (
        "record.json unusable: synthetic/test1: 0 videos "
        "evaluated (16 of 16 (100%) skipped as broken)"
    )
    code, out = _cli(capsys, "run", str(suite), "--results", str(store.root), "--dry-run")
    assert "rerun (record.json unusable" in out


def test_a_diverged_training_fails_although_its_top1_looks_like_a_number(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diverging = _suite(
        tmp_path, SUITE.replace("optim: {epochs: 2,", "optim: {lr: 1.0e+30, epochs: 2,")
    )
    code, out, store, run_id = _run(capsys, diverging, data_root)
    assert code == 1
    assert "top-1 33.33" in out  # chance level from NaN scores: what used to be reported as done
    assert store.read_status("trust", run_id).error == (
        f"run {run_id}: training split synthetic/train: training "
        "diverged, loss nan in epoch 1; lower optim.lr or "
        "use fp32 (and 1 more problem(s))"
    )
    assert not store.is_done("trust", run_id)
    steps = read_train_steps(store.run_dir("trust", run_id) / TRAIN_STEPS_FILE)
    assert steps is not None and steps.diverged_at == 2  # step 1's loss precedes the first update
    row = next(line for line in out.splitlines() if line.startswith(run_id))
    assert "failed" in row and "diverged" in row  # marked in the run summary (and in status)


@pytest.mark.parametrize(
    "record, problems",
    [
        (
            {
                "evaluations": [
                    {"dataset": "d", "split": "s", "videos": 3, "skipped": 0, "nonfinite": 2}
                ]
            },
            ["d/s: the model's scores are not finite for 2 of 3 videos (a diverged model)"],
        ),
        ({"metrics": {"top1": 54.1, "top5": float("inf")}}, ["metric top5 is not a number (inf)"]),
        (
            {
                "train": {"split": "hmdb51/train1", "videos": 40, "epochs": 2, "clips": 0},
                "skipped_videos": {"train": 40},
            },
            [
                "training split hmdb51/train1: trained on 0 videos "
                "(40 of 40 (100%) skipped as broken; see log.txt)"
            ],
        ),
        (
            {
                "spec": {"max_skipped": 0.125},
                "evaluations": [{"dataset": "d", "split": "s", "videos": 14, "skipped": 2}],
            },
            [],
        ),
        (
            {
                "spec": {"max_skipped": 0.1},
                "evaluations": [{"dataset": "d", "split": "s", "videos": 14, "skipped": 2}],
            },
            [
                "d/s: 2 of 16 (12.5%) videos skipped as broken, more "
                "than max_skipped 10%; fix the data or raise max_skipped "
                "in the suite"
            ],
        ),
        (
            {"train": {"videos": 100, "epochs": 1, "clips": 99}, "skipped_videos": {"train": 1}},
            [],
        ),  # 1% is allowed
        (
            {"train": {"videos": 90, "epochs": 1, "clips": 89}, "skipped_videos": {"train": 1}},
            [
                "training split: 1 of 90 (1.11%) videos skipped as "
                "broken, more than max_skipped 1%; first: see log.txt; "
                "fix the data or raise max_skipped in the suite"
            ],
        ),
    ],
)
def test_record_problems(record: dict, problems: list[str]) -> None:
    assert record_problems(record) == problems
