"""H.264 mp4 files from RGB frames with PyAV, byte-identical from run to run (the synthetic
benchmark and the test videos).

PyAV is imported on first write: reading annotations never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# BT.601 limited range in 8-bit fixed point (the matrix decoders assume for untagged H.264).
_RGB_TO_YUV = np.array([[66, 129, 25], [-38, -74, 112], [112, -94, -18]], dtype=np.int32)
_YUV_OFFSET = np.array([16, 128, 128], dtype=np.int32)


def _yuv420p(frames: np.ndarray) -> list[np.ndarray]:
    """RGB ``(T, H, W, 3)`` -> uint8 planes Y ``(T, H, W)``, U and V ``(T, H/2, W/2)``; integer
    maths only."""
    r, g, b = (frames[..., c].astype(np.int32) for c in range(3))
    y, u, v = (
        ((wr * r + wg * g + wb * b + 128) >> 8) + offset
        for (wr, wg, wb), offset in zip(_RGB_TO_YUV, _YUV_OFFSET)
    )
    u, v = (
        (p[:, 0::2, 0::2] + p[:, 1::2, 0::2] + p[:, 0::2, 1::2] + p[:, 1::2, 1::2] + 2) // 4
        for p in (u, v)
    )
    return [np.clip(plane, 0, 255).astype(np.uint8) for plane in (y, u, v)]


def _av_frame(planes: list[np.ndarray], pts: int) -> Any:
    """An ``av.VideoFrame`` (yuv420p) whose every byte, row padding included, is set.

    Converting with numpy (not swscale) and zeroing the padding keeps libx264 output
    byte-identical from run to run: it otherwise reads uninitialised padding bytes.
    """
    import av  # noqa: PLC0415

    height, width = planes[0].shape
    out = av.VideoFrame(width, height, "yuv420p")
    for plane, data in zip(out.planes, planes):
        buffer = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
        buffer[:, : data.shape[1]] = data
        plane.update(buffer)  # type: ignore[arg-type]  # any buffer works; PyAV's stub says bytes
    out.pts = pts
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames (even H, W) as H.264 (libx264, yuv420p, no
    B-frames)."""
    import av  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast", "tune": "zerolatency", "bf": "0"}
        stream.codec_context.thread_count = 1  # deterministic bytes
        for pts, planes in enumerate(zip(*_yuv420p(frames))):
            container.mux(stream.encode(_av_frame(list(planes), pts)))
        container.mux(stream.encode())
