"""The pre-training probe of a video's container (``omnibench/data/probe.py``) against the decoder.

Real files of each container omnibench reads on the benchmarks (MP4 from omnibench's own writer,
AVI as UCF101 and HMDB51 ship, WebM as Something-Something v2 does, written with PyAV), cut at
every few bytes as an interrupted copy leaves them. The probe may doubt a file (the decoder then
decides); it must never call whole a file the decoder cannot open, nor doubt a whole one.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from omnibench.data.mp4 import write_mp4
from omnibench.data.probe import NO_CONTAINER, video_problem
from omnibench.data.readable import EMPTY, MISSING

FRAMES = 16
SIZE = 32


def _frames() -> np.ndarray:
    ramp = np.arange(FRAMES, dtype=np.uint8)[:, None, None, None] * 12
    return np.ascontiguousarray(np.broadcast_to(ramp, (FRAMES, SIZE, SIZE, 3)))


def _write_pyav(path: Path, codec: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        for frame in _frames():
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("probe")
    write_mp4(root / "clip.mp4", _frames(), fps=8)
    _write_pyav(root / "clip.avi", "mpeg4")
    _write_pyav(root / "clip.webm", "libvpx" if "libvpx" in av.codecs_available else "mpeg4")
    return {path.suffix: path for path in root.iterdir()}


def _opens(path: Path) -> bool:
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    try:
        decord.VideoReader(str(path), num_threads=1)
    except Exception:  # noqa: BLE001 - decord raises RuntimeError or DECORDError
        return False
    return True


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".webm"])
def test_the_probe_never_calls_whole_a_cut_file_the_decoder_cannot_open(
    videos: dict[str, Path], suffix: str, tmp_path: Path
) -> None:
    whole = videos[suffix].read_bytes()
    assert video_problem(videos[suffix]) == (None, None) and _opens(videos[suffix])
    cut_file, refused = tmp_path / f"cut{suffix}", []
    for end in range(1, len(whole), max(1, len(whole) // 60)):
        cut_file.write_bytes(whole[:end])
        problem, doubt = video_problem(cut_file)
        assert problem is None  # the file reads: only its container is in question
        if doubt is None and not _opens(cut_file):
            refused.append(end)
    assert refused == [], f"called whole but the decoder refuses: {suffix} cut at {refused}"


def test_each_kind_of_damage_is_named(videos: dict[str, Path], tmp_path: Path) -> None:
    mp4 = videos[".mp4"].read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(mp4[: len(mp4) // 2])
    _, doubt = video_problem(half)
    assert doubt is not None and doubt.startswith("truncated MP4/MOV: its 'mdat' at byte ")
    assert doubt.endswith(f"past the end of the file ({len(mp4) // 2} bytes)")

    avi = videos[".avi"].read_bytes()
    (tmp_path / "cut.avi").write_bytes(avi[:-100])
    _, doubt = video_problem(tmp_path / "cut.avi")
    assert doubt == (
        f"truncated AVI: its 'AVI ' at byte 0 ends at byte {len(avi)}, past the end of the file "
        f"({len(avi) - 100} bytes)"
    )
    (tmp_path / "junk.mp4").write_bytes(b"<html>404 not found</html>")
    assert video_problem(tmp_path / "junk.mp4") == (None, NO_CONTAINER)
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert video_problem(tmp_path / "empty.mp4") == (EMPTY, None)
    assert video_problem(tmp_path / "absent.mp4") == (MISSING, None)
