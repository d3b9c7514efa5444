"""What one ``omnibench bench`` run measures: the models and the shared settings."""

from __future__ import annotations

import dataclasses

from omnibench.errors import OmniBenchError

DTYPES = ("fp32", "bf16", "fp16")
DEVICES = ("cpu", "cuda")
REFERENCE_MODEL = "vanilla_clip"  # frozen CLIP, frame-mean: every ratio is taken against it


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """Equal backbone, frames, batch and input size for every model of one run."""

    models: tuple[str, ...]
    backbone: str
    frames: int = 8
    batch: int = 2
    size: int | None = None  # None: the backbone's native input size
    classes: int = (
        51  # class names per forward (HMDB51 has 51): text and prompting costs scale with it
    )
    device: str = "cpu"
    dtype: str = "fp32"
    repeats: int = 5
    warmup: int = 2

    def __post_init__(self) -> None:
        for key in ("frames", "batch", "classes", "repeats"):
            _check(getattr(self, key) >= 1, f"--{key} must be >= 1, got {getattr(self, key)}")
        _check(self.warmup >= 0, f"--warmup must be >= 0, got {self.warmup}")
        _check(self.size is None or self.size >= 16, f"--size must be >= 16, got {self.size}")
        _check(
            self.device in DEVICES,
            f"--device must be one of {', '.join(DEVICES)}, got '{self.device}'",
        )
        _check(
            self.dtype in DTYPES, f"--dtype must be one of {', '.join(DTYPES)}, got '{self.dtype}'"
        )
        _check(len(self.models) > 0, "--models names no model")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able settings."""
        return {**dataclasses.asdict(self), "models": list(self.models)}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise OmniBenchError(f"bench: {message}")
