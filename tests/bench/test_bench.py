"""`omnibench bench`: a complete table at tiny CPU settings, and the measurement pieces it rests on.

Assertions are on structure and positivity, never on absolute speed.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from omnibench.bench.loader import bench_videos, dataset_indices, workers_needed
from omnibench.bench.measure import (
    device_peak_tflops,
    interleaved_median_seconds,
    median_seconds,
    peak_memory_mib,
    reset_peak_memory,
)
from omnibench.cli import main
from omnibench.models import MODELS

TINY = [
    "--backbone",
    "omnibench-tiny-vit",
    "--frames",
    "2",
    "--batch",
    "1",
    "--classes",
    "3",
    "--repeats",
    "1",
    "--warmup",
    "0",
]
MODEL_FIELDS = (
    "params_total",
    "gflops_view",
    "infer_s",
    "infer_clips_per_s",
    "infer_peak_mib",
    "achieved_tflops",
    "infer_ratio",
)
TRAIN_FIELDS = ("train_step_ms", "train_clips_per_s", "train_peak_mib", "params_trainable")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One tiny run of every model with the loader, as JSON, plus its markdown file."""
    markdown = tmp_path_factory.mktemp("bench") / "bench.md"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["bench", *TINY, "--json", "--markdown", str(markdown)])
    assert code == 0
    return json.loads(out.getvalue()), markdown.read_text()


def test_every_registered_model_has_every_field_positive(
    full_run: tuple[dict[str, Any], str],
) -> None:
    report, _ = full_run
    rows = {row["model"]: row for row in report["models"]}
    assert set(rows) == set(MODELS.names())
    for name, row in rows.items():
        for field in MODEL_FIELDS:
            assert row[field] > 0, (name, field)
        trains = row["params_trainable"] > 0
        for field in TRAIN_FIELDS[:3]:
            assert (row[field] is not None and row[field] > 0) if trains else row[field] is None, (
                name,
                field,
            )
        assert row["peak_fraction"] is None  # no device peak on a CPU
    assert rows["vanilla_clip"]["infer_ratio"] == pytest.approx(1.0)
    assert rows["omniclip"]["params_trainable"] > 0


def test_loader_section_and_workers_per_model(full_run: tuple[dict[str, Any], str]) -> None:
    report, _ = full_run
    loader = report["loader"]
    assert (
        loader["videos"] > 0 and loader["raw_clips_per_s"] > 0 and loader["loader_clips_per_s"] > 0
    )
    assert loader["ratio"] == pytest.approx(
        loader["loader_clips_per_s"] / loader["raw_clips_per_s"]
    )
    assert loader["color_device"] == "cpu" and loader["color_ms_per_clip"] > 0
    assert set(loader["workers"]) == set(MODELS.names())
    for need in loader["workers"].values():
        assert need["infer"] >= 1 and (need["train"] is None or need["train"] >= 1)


def test_targets_are_judged_and_gpu_target_skips_on_cpu(
    full_run: tuple[dict[str, Any], str],
) -> None:
    report, _ = full_run
    targets = report["targets"]
    assert len(targets) == 6
    for target in targets[:4]:
        assert target["status"] in ("pass", "fail") and target["value"] > 0, target
    assert targets[4]["status"] == "skip" and targets[4]["note"] == "needs --prepared"
    assert targets[5]["status"] == "skip" and "cuda" in targets[5]["note"]
    settings, machine = report["settings"], report["machine"]
    assert settings["models"][0] == "vanilla_clip" and settings["size"] == 32
    assert machine["cpu_count"] >= 1 and machine["torch"] == torch.__version__


def test_markdown_holds_every_table(full_run: tuple[dict[str, Any], str]) -> None:
    _, markdown = full_run
    for heading in ("#### Models", "#### Data loader", "#### Targets"):
        assert heading in markdown
    for name in MODELS.names():
        assert f"| {name} |" in markdown


def test_rich_tables_for_a_model_subset_without_loader(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *TINY, "--models", "omniclip", "--no-loader"]) == 0
    out = capsys.readouterr().out
    assert "│ omniclip " in out and "│ vanilla_clip " in out and "│ xclip " not in out
    assert "not measured (--no-loader)" in out and "skip" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "omniclp"], "did you mean 'omniclip'"),
        (["--dtype", "int8"], "--dtype"),
        (["--backbone", "ViT-B-61"], "--backbone"),
        (["--videos", "/nonexistent/dir"], "not a directory"),
    ],
)
def test_bad_settings_are_one_line_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *TINY, "--models", "vanilla_clip", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "dtype", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.0),
        ("NVIDIA H100 PCIe", "bf16", 756.0),
        ("NVIDIA H200", "bf16", 989.0),
        ("NVIDIA A100-SXM4-80GB", "bf16", 312.0),
        ("NVIDIA A10", "bf16", 125.0),
        ("NVIDIA L4", "fp32", 30.3),
        ("NVIDIA L40S", "bf16", 362.0),
        ("Tesla V100-SXM2-16GB", "bf16", None),
        ("Some New GPU", "bf16", None),
    ],
)
def test_device_peak_lookup(name: str, dtype: str, peak: float | None) -> None:
    assert device_peak_tflops(name, dtype) == peak


def test_median_excludes_warmup() -> None:
    calls = []

    def slow_first() -> None:
        calls.append(None)
        time.sleep(0.3 if len(calls) == 1 else 0.001)

    assert median_seconds(slow_first, torch.device("cpu"), repeats=3, warmup=1) < 0.1
    assert len(calls) == 4


def test_interleaved_timings_alternate_and_stay_per_function() -> None:
    order: list[str] = []

    def timed(name: str, seconds: float) -> Any:
        return lambda: (order.append(name), time.sleep(seconds))

    slow, fast = interleaved_median_seconds(
        [timed("slow", 0.02), timed("fast", 0.001)], torch.device("cpu"), 3, 1
    )
    assert order == ["slow", "fast"] * 4
    assert slow > 0.015 and fast < 0.015


def test_cpu_peak_memory_sees_an_allocation_after_reset() -> None:
    cpu = torch.device("cpu")
    reset_peak_memory(cpu)
    before = peak_memory_mib(cpu)
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert peak_memory_mib(cpu) >= before + 48
    del block


def test_workers_needed_rounds_up() -> None:
    assert workers_needed(10.0, 4.0) == 3
    assert workers_needed(1.0, 40.0) == 1
    assert workers_needed(None, 4.0) is None


def test_raw_decode_replays_the_dataset_frame_indices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw-decord side must read exactly the frames the training dataset reads."""
    import omnibench.data.video as video_module
    from omnibench.data import VideoClipDataset, VideoRecord, build_transform

    seen: list[list[int]] = []
    decode = video_module.decode_frames

    def recording(reader: Any, path: Path, indices: list[int]) -> torch.Tensor:
        seen.append(list(indices))
        return decode(reader, path, indices)

    with bench_videos(None, 38) as (paths, _):
        monkeypatch.setattr(video_module, "decode_frames", recording)
        records = [VideoRecord(path=p, label=0, source=str(p)) for p in paths[:4]]
        dataset = VideoClipDataset(records, 4, train=True, transform=build_transform(True, 32, 37))
        for index in range(len(dataset)):
            dataset[index]
        assert seen == [dataset_indices(dataset, index) for index in range(len(dataset))]


def test_prepared_inputs_side_by_side(tmp_path: Path) -> None:
    from omnibench.bench.hires import ClipSpec, write_clip

    spec = ClipSpec(width=640, height=360, frames=40)  # one keyframe: a long-GOP download
    for number in range(2):
        write_clip(tmp_path / "videos" / f"clip{number}.mp4", spec, seed=number)
    out = io.StringIO()
    args = [
        "--models",
        "omniclip",
        "--no-loader",
        "--prepared",
        "--videos",
        str(tmp_path / "videos"),
    ]
    with contextlib.redirect_stdout(out):
        assert main(["bench", *TINY, *args, "--json"]) == 0
    report = json.loads(out.getvalue())
    source, prepared = report["inputs"]
    assert (source["label"], source["size"], source["keyframe_interval"]) == (
        f"source: {tmp_path / 'videos'}",
        "640x360",
        None,
    )
    assert prepared["label"] == "prepared (short side 320, keyframe every 8)"
    assert (prepared["size"], prepared["keyframe_interval"], prepared["videos"]) == (
        "568x320",
        8,
        2,
    )
    assert source["speedup"] == 1.0
    assert prepared["speedup"] == pytest.approx(
        prepared["loader_clips_per_s"] / source["loader_clips_per_s"]
    )
    omniclip = {row["model"]: row for row in report["models"]}["omniclip"]
    for entry in (source, prepared):
        rates = ("pyav_loader_clips_per_s", "decord_clips_per_s", "pyav_clips_per_s")
        assert all(entry[rate] > 0 for rate in rates)
        assert entry["workers"]["omniclip"] == {
            "train": workers_needed(omniclip["train_clips_per_s"], entry["loader_clips_per_s"]),
            "infer": workers_needed(omniclip["infer_clips_per_s"], entry["loader_clips_per_s"]),
        }
    [target] = [t for t in report["targets"] if t["name"].startswith("loader on prepared")]
    assert target["value"] == prepared["speedup"] and target["status"] in ("pass", "fail")
