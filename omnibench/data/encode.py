"""Re-encoding one video with PyAV: every frame kept, scaled down to a short side, H.264 with a
fixed keyframe interval (``omnibench data prepare``); and the H.264 writer both use.

Frame ``i`` of the output is frame ``i`` of the source in presentation order: nothing is dropped
or duplicated, and the output's frame rate is the source's average rate, so a TSN sample
(:mod:`omnibench.data.sampling`) indexes the same frames in both. Frames are never upscaled;
sides are rounded to even numbers (yuv420p). Audio is dropped: no protocol reads it.

The output is always an MP4 container, whatever the file's name: the adapters read the names
the datasets use (``.avi``, ``.webm``), and FFmpeg (decord, PyAV) recognises a container by
its bytes, not its name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omnibench.errors import OmniBenchError

CONTAINER = "mp4"
CODEC = "libx264"


@dataclasses.dataclass(frozen=True)
class EncodeSettings:
    """How ``omnibench data prepare`` re-encodes: the identity of a prepared root."""

    short_side: int = 320  # the X-CLIP / ViFi-CLIP instructions' value
    keyframe_interval: int = 8  # docs/BENCHMARKS.md ("Preparing videos") says why
    crf: int = (
        23  # FFmpeg's default: what the resize commands of the X-CLIP / mmaction2 docs produce
    )
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        if self.short_side < 16 or self.keyframe_interval < 1 or not 0 <= self.crf <= 51:
            raise OmniBenchError(
                "prepare: need --short-side >= 16, --keyframe-interval >= 1 and 0 <= --crf <= 51, "
                f"got {self.short_side}, {self.keyframe_interval}, {self.crf}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able settings, with the codec and container."""
        return {**dataclasses.asdict(self), "codec": CODEC, "container": CONTAINER}


@dataclasses.dataclass(frozen=True)
class EncodedVideo:
    """What one re-encode read and wrote."""

    frames: int
    fps: float
    width: int
    height: int
    source_width: int
    source_height: int


class DecodeError(Exception):
    """The source could not be opened or decoded completely (message: the reason)."""


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the short side is ``short_side`` (never up), both even."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """An H.264 stream to write: size, rate, keyframe interval, quality, B-frames."""

    width: int
    height: int
    rate: fractions.Fraction
    keyframe_interval: int
    crf: int = 18
    preset: str = "veryfast"
    bframes: int = 0


class H264Writer:
    """Frames in, an MP4 file out: a keyframe exactly every ``keyframe_interval`` frames (no
    scene-cut keyframes in between), one encoder thread."""

    def __init__(self, path: Path, settings: StreamSettings) -> None:
        import av  # noqa: PLC0415

        self.container = av.open(str(path), mode="w", format=CONTAINER)
        stream: Any = self.container.add_stream(CODEC, rate=settings.rate)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
        gop = str(settings.keyframe_interval)
        stream.options = {
            "crf": str(settings.crf),
            "preset": settings.preset,
            "bf": str(settings.bframes),
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
        stream.codec_context.thread_count = 1  # prepare runs one process per core
        self.stream, self.frames, self.time_base = stream, 0, 1 / settings.rate
        self.width, self.height = settings.width, settings.height

    def write(self, frame: Any) -> None:
        """Encode one ``av.VideoFrame`` of the stream's size (any pixel format)."""
        frame = frame.reformat(format="yuv420p") if frame.format.name != "yuv420p" else frame
        frame.pts, frame.time_base = self.frames, self.time_base
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self.container.mux(self.stream.encode())
        self.container.close()

    def abandon(self) -> None:
        """Close after a failure; the caller discards the file (it may be incomplete)."""
        with contextlib.suppress(Exception):
            self.container.close()


def _decoded(container: Any, stream: Any, path: Path) -> Iterator[Any]:
    import av  # noqa: PLC0415

    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as error:
        raise DecodeError(f"{path}: cannot decode frames: {error.strerror or error}") from None


def _open(path: Path) -> tuple[Any, Any]:
    import av  # noqa: PLC0415

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise DecodeError(f"{path}: cannot open: {error.strerror or error}") from None
    if not container.streams.video:
        container.close()
        raise DecodeError(f"{path}: no video stream")
    stream = container.streams.video[0]
    stream.thread_count = 1
    return container, stream


def _write_all(container: Any, stream: Any, writer: H264Writer, source: Path) -> None:
    """Every decoded frame of ``stream``, scaled to the writer's size, into ``writer``."""
    size = (writer.width, writer.height)
    for frame in _decoded(container, stream, source):
        if (frame.width, frame.height) != size:
            frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
        writer.write(frame)


def reencode(source: Path, target: Path, settings: EncodeSettings) -> EncodedVideo:
    """Write ``source``'s frames, scaled to ``settings.short_side``, as H.264 MP4 to ``target``.

    Raises :class:`DecodeError` when the source does not open, has no video stream, fails to
    decode, or ends before the frame count its container declares (a truncated file).
    """
    container, stream = _open(source)
    try:
        rate = stream.average_rate or stream.guessed_rate or fractions.Fraction(30)
        width, height = stream.codec_context.width, stream.codec_context.height
        size = output_size(width, height, settings.short_side)
        writer = H264Writer(
            target,
            StreamSettings(*size, rate, settings.keyframe_interval, settings.crf, settings.preset),
        )
        try:
            _write_all(container, stream, writer, source)
        except BaseException:
            writer.abandon()
            raise
        writer.close()
        declared = stream.frames
    finally:
        container.close()
    if writer.frames == 0 or (declared and writer.frames < declared):
        raise DecodeError(
            f"{source}: truncated: decoded {writer.frames} of {declared} frames"
            if writer.frames
            else f"{source}: no decodable frames"
        )
    return EncodedVideo(writer.frames, float(rate), *size, width, height)
