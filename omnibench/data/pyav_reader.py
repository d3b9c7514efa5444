"""Reading chosen frames with PyAV, seeking to the keyframe before each one: the decoder the
loader bench sets beside decord (``omnibench bench --prepared``). decord stays the loader's.

Frames are indexed like decord's: by presentation time, from the packets' timestamps read
once when the file opens (no decoding). For each wanted frame the reader decodes on from where
it is when no keyframe lies in between, and seeks to the keyframe before it otherwise.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class KeyframeSeekReader:
    """The frames of one video by index, decoded from the nearest keyframe (one thread)."""

    def __init__(self, path: Path) -> None:
        import av  # noqa: PLC0415

        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        self.stream.thread_count = 1
        times, keys = [], []
        for packet in self.container.demux(self.stream):
            if packet.pts is not None:
                times.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        self.times, self.keys = sorted(times), sorted(keys)
        self.position: int | None = None  # timestamp of the last decoded frame
        self.frames: Iterator[Any] = iter(())

    def __len__(self) -> int:
        return len(self.times)

    def _frame(self, index: int) -> np.ndarray:
        target = self.times[index]
        key = self.keys[max(0, bisect.bisect_right(self.keys, target) - 1)]
        if self.position is None or self.position >= target or key > self.position:
            self.container.seek(key, stream=self.stream, backward=True)
            self.frames = self.container.decode(self.stream)
        for frame in self.frames:
            self.position = frame.pts
            if frame.pts is not None and frame.pts >= target:
                return frame.to_ndarray(format="rgb24")
        raise EOFError(f"frame {index} not found")

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``indices`` as uint8 ``(len(indices), H, W, 3)``, each decoded once."""
        unique = sorted(set(indices))
        decoded = {index: self._frame(index) for index in unique}
        return np.stack([decoded[index] for index in indices])

    def close(self) -> None:
        """Release the file."""
        self.container.close()
