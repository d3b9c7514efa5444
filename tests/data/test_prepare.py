"""`omnibench data prepare`: the prepared root reads like the source (layout, frames, lists),
resumes after a kill, does nothing twice, and counts broken sources like `data check`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from omnibench.bench.hires import ClipSpec, write_clip
from omnibench.data import SynthConfig, generate_synthetic, get_dataset
from omnibench.data.encode import output_size
from omnibench.data.mp4 import write_mp4
from omnibench.data.prepared import LOG_FILE, prepared_summary
from tests.conftest import Invoke, cpu_options, tiny_suite_text

ROOT = Path(__file__).resolve().parents[2]
TINY = SynthConfig(classes=("object moving left", "object moving right"), videos_per_class=6)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIBENCH_DATA", raising=False)
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "no-datasets.yaml"))


def _frames(path: Path) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path), num_threads=1)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def _records(name: str, data_root: Path) -> list[tuple[str, int, str]]:
    """Every split's (video path relative to the adapter's video folder, label, list line)."""
    adapter = get_dataset(name, data_root=data_root)
    return [
        (r.path.relative_to(adapter.videos).as_posix(), r.label, Path(r.source).name)
        for split in adapter.split_names()
        for r in adapter.load_split(split).records
    ]


def _defaults_from(source: Path) -> dict[str, object]:
    """What a run records about a finished prepare of ``source`` with the default settings."""
    return {
        "source": str(source),
        "short_side": 320,
        "keyframe_interval": 8,
        "crf": 23,
        "codec": "libx264",
        "complete": True,
    }


def _prepare(cli: Invoke, *args: str) -> tuple[int, dict]:
    code, out = cli("data", "prepare", *args, "--json", "-j", "1")
    return code, json.loads(out.strip().splitlines()[-1])


def test_synthetic_prepared_root_reads_like_the_source(tmp_path: Path, cli: Invoke) -> None:
    source = generate_synthetic(tmp_path / "src" / "synthetic", TINY)
    code, summary = _prepare(
        cli, "synthetic", "--data-root", str(tmp_path / "src"), "--out", str(tmp_path / "out")
    )
    assert code == 0 and (summary["listed"], summary["prepared"], summary["broken"]) == (12, 12, [])
    prepared = tmp_path / "out" / "synthetic"
    assert _records("synthetic", tmp_path / "out") == _records("synthetic", tmp_path / "src")
    for name in ("labels.csv", "train.txt", "test1.txt", "synth.json"):
        assert (prepared / name).read_bytes() == (source / name).read_bytes()
    video = "videos/object_moving_left/object_moving_left_003.mp4"
    before, after = _frames(source / video), _frames(prepared / video)
    assert after.shape == before.shape  # 64 px: never upscaled, all 16 frames kept
    # frame i of the copy is frame i of the source, not a neighbour (the object moves)
    errors = np.abs(after.astype(int)[:, None] - before.astype(int)[None]).mean(axis=(2, 3, 4))
    assert (errors.argmin(axis=1) == np.arange(len(before))).all() and errors.diagonal().max() < 4
    assert prepared_summary(prepared) == _defaults_from(source)
    assert prepared_summary(source) is None


def test_a_second_call_does_nothing_and_says_so(tmp_path: Path, cli: Invoke) -> None:
    generate_synthetic(tmp_path / "src" / "synthetic", TINY)
    args = ("synthetic", "--data-root", str(tmp_path / "src"), "--out", str(tmp_path / "out"))
    code, out = cli("data", "prepare", *args, "-j", "2", columns=200)
    assert code == 0 and "prepared 12/12 (0 broken)" in out and "ETA 0:00" in out  # plain lines
    prepared = tmp_path / "out" / "synthetic"
    stamps = {p: p.stat().st_mtime_ns for p in prepared.rglob("*")}
    code, out = cli("data", "prepare", *args, "-j", "2", columns=200)
    assert code == 0 and "nothing to do: all 12 readable videos of synthetic are already" in out
    assert {p: p.stat().st_mtime_ns for p in prepared.rglob("*")} == stamps


def test_a_changed_source_is_prepared_again(tmp_path: Path, cli: Invoke) -> None:
    source = generate_synthetic(tmp_path / "src" / "synthetic", TINY)
    args = ("synthetic", "--data-root", str(tmp_path / "src"), "--out", str(tmp_path / "out"))
    assert _prepare(cli, *args)[0] == 0
    video = "videos/object_moving_right/object_moving_right_000.mp4"
    write_mp4(source / video, np.zeros((5, 64, 64, 3), dtype=np.uint8), fps=8)
    code, summary = _prepare(cli, *args)
    assert code == 0 and (summary["already"], summary["prepared"], summary["changed"]) == (11, 1, 1)
    assert len(_frames(tmp_path / "out" / "synthetic" / video)) == 5


def test_another_setting_into_the_same_root_is_refused(tmp_path: Path, cli: Invoke) -> None:
    generate_synthetic(tmp_path / "src" / "synthetic", TINY)
    args = ("synthetic", "--data-root", str(tmp_path / "src"), "--out", str(tmp_path / "out"))
    assert _prepare(cli, *args)[0] == 0
    code, out = cli("data", "prepare", *args, "--keyframe-interval", "4", columns=300)
    assert code == 2 and "holds videos prepared from" in out and "choose another --out" in out


def _list_dataset(root: Path, videos: dict[str, np.ndarray | bytes | None]) -> Path:
    """A list-format dataset: labels.csv, train.txt listing ``videos`` (None: listed, missing)."""
    (root / "clips").mkdir(parents=True)
    (root / "labels.csv").write_text("id,name\n0,a\n1,b\n")
    (root / "train.txt").write_text("".join(f"clips/{n} {i % 2}\n" for i, n in enumerate(videos)))
    for name, content in videos.items():
        if isinstance(content, np.ndarray):
            write_mp4(root / "clips" / name, content, fps=10)
        elif content is not None:
            (root / "clips" / name).write_bytes(content)
    return root


def test_broken_sources_are_counted_like_data_check(tmp_path: Path, cli: Invoke) -> None:
    good = np.random.default_rng(0).integers(0, 255, (6, 64, 96, 3), dtype=np.uint8)
    root = _list_dataset(
        tmp_path / "lists",
        {"good.avi": good, "empty.avi": b"", "garbage.avi": b"not a video" * 50, "gone.avi": None},
    )
    code, summary = _prepare(cli, str(root), "--out", str(tmp_path / "out"))
    assert code == 1 and (summary["listed"], summary["prepared"]) == (4, 1)
    broken = {Path(b["path"]).name: b for b in summary["broken"]}
    code, checked = cli("data", "check", str(root), "--json", "-j", "1")
    assert code == 1
    assert set(broken) == {Path(b["path"]).name for b in json.loads(checked)["broken"]}
    assert (
        broken["gone.avi"]["source"].endswith("train.txt:4")
        and "missing video file" in broken["gone.avi"]["reason"]
    )
    assert "empty (zero-byte)" in broken["empty.avi"]["reason"]
    assert len(_frames(tmp_path / "out" / "lists" / "clips" / "good.avi")) == 6  # an mp4 named .avi
    log = (tmp_path / "out" / "lists" / LOG_FILE).read_text()
    code, again = _prepare(cli, str(root), "--out", str(tmp_path / "out"))
    assert code == 1 and again["prepared"] == 0 and len(again["broken"]) == 3
    # unchanged broken sources are not retried; only the missing one is looked for again
    assert (tmp_path / "out" / "lists" / LOG_FILE).read_text().count("\n") == log.count("\n") + 1


def _hmdb51(root: Path) -> None:
    (root / "testTrainMulti_7030_splits").mkdir(parents=True)
    for cls in ("kick", "sword"):
        for k in (1, 2, 3):
            (root / "testTrainMulti_7030_splits" / f"{cls}_test_split{k}.txt").write_text(
                f"{cls}_a.avi 1\n{cls}_b.avi 2\n"
            )


def _ucf101(root: Path) -> None:
    (root / "ucfTrainTestlist").mkdir(parents=True)
    (root / "ucfTrainTestlist" / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 YoYo\n")
    for k in (1, 2, 3):
        (root / "ucfTrainTestlist" / f"trainlist0{k}.txt").write_text("YoYo/v_YoYo_g08_c01.avi 2\n")
        (root / "ucfTrainTestlist" / f"testlist0{k}.txt").write_text(
            "ApplyEyeMakeup/v_A_g01_c01.avi\n"
        )
    (root / "UCF-101").mkdir()


def _k400(root: Path) -> None:
    header = "label,youtube_id,time_start,time_end,split\n"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.csv").write_text(header + "abseiling,aaa,1,11,train\n")
    (root / "annotations" / "validate.csv").write_text(header + "abseiling,ccc,3,13,validate\n")
    (root / "train" / "abseiling").mkdir(parents=True)
    (root / "val").mkdir()


def _ssv2(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "labels.json").write_text(json.dumps({"Pushing something": "0"}))
    entry = {"id": "12", "template": "Pushing [something]"}
    (root / "train.json").write_text(json.dumps([entry]))
    (root / "validation.json").write_text(json.dumps([entry | {"id": "13"}]))
    (root / "20bn-something-something-v2").mkdir()


def _write_webm(path: Path, frames: np.ndarray, fps: int) -> None:
    """VP9 in WebM, as Something-Something v2 ships its videos."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libvpx-vp9", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.mark.parametrize("name", ["hmdb51", "ucf101", "k400", "ssv2"])
def test_every_adapter_reads_the_prepared_root(tmp_path: Path, cli: Invoke, name: str) -> None:
    {"hmdb51": _hmdb51, "ucf101": _ucf101, "k400": _k400, "ssv2": _ssv2}[name](
        tmp_path / "src" / name
    )
    adapter = get_dataset(name, data_root=tmp_path / "src")
    frames = np.random.default_rng(1).integers(0, 255, (5, 64, 80, 3), dtype=np.uint8)
    for split in adapter.split_names():
        for record in adapter.load_split(split).records:
            if not record.path.exists():
                (_write_webm if record.path.suffix == ".webm" else write_mp4)(
                    record.path, frames, 12
                )
    code, summary = _prepare(
        cli, name, "--data-root", str(tmp_path / "src"), "--out", str(tmp_path / "out")
    )
    assert code == 0 and summary["broken"] == [] and summary["prepared"] >= 2
    assert _records(name, tmp_path / "out") == _records(name, tmp_path / "src")
    prepared = get_dataset(name, data_root=tmp_path / "out")
    assert all(
        len(_frames(r.path)) == 5 for r in prepared.load_split(prepared.split_names()[0]).records
    )


def test_output_size_scales_down_only_and_keeps_even_sides() -> None:
    assert output_size(1280, 720, 320) == (568, 320)  # 568.9 rounded to an even width
    assert output_size(720, 1280, 320) == (320, 568)
    assert output_size(340, 256, 320) == (340, 256)  # already smaller: never upscaled
    assert output_size(641, 481, 320) == (426, 320)


def _clip_set(root: Path, count: int, spec: ClipSpec) -> Path:
    for number in range(count):
        write_clip(root / f"class{number % 2}" / f"clip{number}.mp4", spec, seed=number)
    (root / "labels.csv").write_text("id,name\n0,first\n1,second\n")
    lines = "".join(f"class{n % 2}/clip{n}.mp4 {n % 2}\n" for n in range(count))
    (root / "train.txt").write_text(lines)
    (root / "test1.txt").write_text(lines)
    return root


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


@pytest.mark.slow
def test_720p_set_resumes_after_a_kill_and_a_run_reads_it(tmp_path: Path, cli: Invoke) -> None:
    spec = ClipSpec(frames=40)  # 1280x720, one keyframe (every 250 frames), B-frames
    source = _clip_set(tmp_path / "src" / "clips720", 7, spec)
    truncated = source / "class0" / "clip6.mp4"  # listed last: cut in half, its index is lost
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (tmp_path / "no-datasets.yaml").write_text(f"clips720: {{format: list, root: {source}}}\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "omnibench", "data", "prepare", "clips720", "--out", str(out)]
    process = subprocess.Popen(
        [*command, "-j", "1"], cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL
    )
    log = out / "clips720" / LOG_FILE
    deadline = time.monotonic() + 300
    while not (log.is_file() and log.read_text().count("\n") >= 2 and _temp_files(out)):
        assert process.poll() is None, "prepare ended before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # mid-write: a half-written temporary file is left
    process.wait()
    done_before = log.read_text().count("\n")
    assert _temp_files(out) and 2 <= done_before < 6
    code, summary = _prepare(cli, "clips720", "--out", str(out))
    assert code == 1 and (summary["already"], summary["prepared"]) == (done_before, 6 - done_before)
    [broken] = summary["broken"]
    assert broken["path"] == str(truncated) and broken["source"].endswith(
        "test1.txt:7"
    )  # first list that names it
    assert not _temp_files(out) and not (out / "clips720" / "class0" / "clip6.mp4").exists()
    for number in range(6):
        video = Path(f"class{number % 2}") / f"clip{number}.mp4"
        assert _frames(out / "clips720" / video).shape == (40, 320, 568, 3)
    code, summary = _prepare(cli, "clips720", "--out", str(out))
    assert code == 1 and (summary["prepared"], summary["already"], len(summary["broken"])) == (
        0,
        6,
        1,
    )
    _run_reads_prepared(tmp_path, cli, out, source)


def _run_reads_prepared(tmp_path: Path, cli: Invoke, out: Path, source: Path) -> None:
    """An evaluation with ``--data-root out`` reads the prepared copies (the broken one skipped)."""
    from omnibench.store.run_store import RunStore

    suite = SUITE.replace("dataset: synthetic", "dataset: clips720\n  max_skipped: 0.5")
    (tmp_path / "prep.yaml").write_text(suite)
    store = RunStore(tmp_path / "results")
    options = ("--results", str(store.root), *cpu_options(out))
    code, output = cli("run", str(tmp_path / "prep.yaml"), *options, columns=250)
    assert code == 0, output
    [run] = list(store.iter_runs("prep"))
    record = store.read_record("prep", run.run_id)
    assert record["video_roots"]["clips720"]["prepared"] == _defaults_from(source)
    assert (record["evaluations"][0]["videos"], record["evaluations"][0]["skipped"]) == (6, 1)


SUITE = tiny_suite_text(
    "prep",
    description="a run on prepared videos",
    columns="dataset",
    base=["protocol_options: {splits: [test1]}"],
    tail="",
)


def test_a_run_on_the_prepared_root_records_what_it_read(tmp_path: Path, cli: Invoke) -> None:
    from omnibench.store.run_store import RunStore

    source = generate_synthetic(tmp_path / "src" / "synthetic", TINY)
    out = tmp_path / "out"
    assert (
        _prepare(cli, "synthetic", "--data-root", str(tmp_path / "src"), "--out", str(out))[0] == 0
    )
    (tmp_path / "prep.yaml").write_text(SUITE)
    store = RunStore(tmp_path / "results")
    code, output = cli(
        "run",
        str(tmp_path / "prep.yaml"),
        "--results",
        str(store.root),
        *cpu_options(out),
        columns=250,
    )
    assert code == 0, output
    [run] = list(store.iter_runs("prep"))
    record = store.read_record("prep", run.run_id)
    assert record["video_roots"]["synthetic"] == {
        "root": str(out / "synthetic"),
        "videos": str(out / "synthetic"),
        "prepared": _defaults_from(source),
    }
    assert record["evaluations"][0]["videos"] == 2 and record["skipped_videos"]["eval"] == 0
    assert "reading videos prepared from" in store.log_path("prep", run.run_id).read_text()


def test_pyav_keyframe_seek_reads_the_frames_decord_reads(tmp_path: Path) -> None:
    from omnibench.data.pyav_reader import KeyframeSeekReader

    source = write_clip(
        tmp_path / "b.mp4", ClipSpec(width=320, height=180, frames=30, keyframe_interval=12)
    )
    import decord

    expected = decord.VideoReader(str(source), num_threads=1)
    reader = KeyframeSeekReader(source)
    indices = [29, 3, 3, 14, 11, 12, 0]  # across keyframes (0, 12, 24), backwards, repeated
    try:
        assert len(reader) == 30
        assert (reader.get_batch(indices) == expected.get_batch(indices).asnumpy()).all()
    finally:
        reader.close()


def test_the_pyav_decoder_gives_the_loader_the_same_clips(tmp_path: Path) -> None:
    import torch

    from omnibench.data import VideoClipDataset, VideoRecord, build_transform

    video = write_clip(
        tmp_path / "v.mp4", ClipSpec(width=320, height=180, frames=30, keyframe_interval=12)
    )
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 4096)
    records = [
        VideoRecord(p, 0, f"list.txt:{n}") for n, p in enumerate([video, tmp_path / "bad.mp4"])
    ]
    for train, views in ((True, {}), (False, {"clips": 2, "crops": 3})):
        transform = build_transform(train, 112, 128)
        decord, pyav = (
            VideoClipDataset(records, 8, train, transform, seed=3, decoder=d, **views)
            for d in ("decord", "pyav")
        )
        assert torch.equal(decord[0]["video"], pyav[0]["video"])
        assert torch.equal(decord[0]["color"], pyav[0]["color"])
        assert "cannot open" in decord[1]["broken"] and "cannot open" in pyav[1]["broken"]


def test_an_unknown_decoder_is_one_line(cli: Invoke) -> None:
    code, out = cli("run", "demo", "--decoder", "ffmpeg", "--dry-run", columns=200)
    assert code == 2 and "--decoder ffmpeg: not a decoder; one of decord, pyav" in out
