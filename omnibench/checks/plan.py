"""Plan-time checks: what would otherwise fail on the compute node, found by ``validate`` and
``--dry-run`` (and before any run starts).

Each finding names where the value was set (``file:line`` or ``--set ...``): a backbone open_clip
does not know, a ``pretrained`` file that does not exist or a tag whose weights are not on this
machine while ``HF_HUB_OFFLINE`` is set, frames of another size than the backbone takes, more
shots than a class of the training list has, and, as a warning, training that never leaves its
learning-rate warm-up. Imports no torch: open_clip's catalogue is read as files
(:mod:`omnibench.models.catalogue`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from omnibench.config.spec import RunSpec
from omnibench.data.datasets import get_dataset
from omnibench.data.roots import locate
from omnibench.errors import OmniBenchError
from omnibench.models.catalogue import backbone_configs, pretrained_tags
from omnibench.models.weights import offline_hint, tag_in_cache
from omnibench.protocols.sampling import too_few_videos
from omnibench.registry import did_you_mean

if TYPE_CHECKING:
    from omnibench.data.records import Split

Where = Callable[[RunSpec, str], str]  # (spec, spec path) -> "file:line" or "--set ..."
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem of a planned run: an error (the run would fail) or a warning."""

    where: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_plan(
    specs: Iterable[RunSpec], where: Where, data_root: Path | None = None
) -> list[Finding]:
    """Every finding for ``specs``, each once, errors first."""
    _training_list.cache_clear()  # the lists are read once per check, never reused stale
    findings: dict[str, Finding] = {}
    for spec in specs:
        for finding in [
            *_backbone(spec, where),
            *_shots(spec, where, data_root),
            *_warmup(spec, where),
        ]:
            findings.setdefault(str(finding), finding)
    return sorted(findings.values(), key=lambda f: not f.error)


def offline() -> bool:
    """True when Hugging Face downloads are off (``HF_HUB_OFFLINE``), as on most compute nodes."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _backbone(spec: RunSpec, where: Where) -> list[Finding]:
    backbone, known = spec.model.backbone, backbone_configs()
    if backbone not in known:
        hint = did_you_mean(backbone, list(known))
        return [
            Finding(
                where(spec, "model.backbone"),
                f"model.backbone: open_clip has no backbone '{backbone}'{hint}",
            )
        ]
    findings = _pretrained(spec, where, backbone)
    size = spec.model.options.get("input_size") or known[backbone]["vision_cfg"]["image_size"]
    problem = spec.input_size_problem(int(size))
    return findings + ([Finding(where(spec, "data.input_size"), problem)] if problem else [])


def _pretrained(spec: RunSpec, where: Where, backbone: str) -> list[Finding]:
    value, at = spec.model.pretrained, where(spec, "model.pretrained")
    if value is None:
        return []
    path = Path(value).expanduser()
    if path.is_file():
        return []
    if os.sep in value or value.startswith(("~", ".")) or path.suffix in WEIGHT_SUFFIXES:
        return [Finding(at, f"model.pretrained: file not found: {path}")]
    tags = pretrained_tags(backbone)
    if value not in tags:
        return [
            Finding(
                at,
                f"model.pretrained '{value}' is neither a file nor an open_clip tag of '{backbone}'"
                f"{did_you_mean(value, tags)}; its tags: {', '.join(tags) or 'none'}",
            )
        ]
    if offline() and not tag_in_cache(backbone, value):
        return [
            Finding(
                at,
                f"model.pretrained '{value}': the weights of "
                f"{backbone} are not in this machine's cache "
                f"and HF_HUB_OFFLINE is set; {offline_hint(backbone, value)}",
            )
        ]
    return []


def _shots(spec: RunSpec, where: Where, data_root: Path | None) -> list[Finding]:
    """More shots than a class of the training list has (when its annotation files are here to
    read)."""
    shots = spec.protocol_options.get("shots")
    if spec.protocol != "few_shot" or not shots or spec.protocol_options.get("shots_file"):
        return []
    split = _training_list(spec.dataset, spec.protocol_options.get("train_split"), data_root)
    problem = too_few_videos(split, int(shots)) if split is not None else None
    return [Finding(where(spec, "protocol_options.shots"), problem)] if problem else []


@functools.lru_cache(maxsize=32)
def _training_list(dataset: str, name: str | None, data_root: Path | None) -> Split | None:
    """The training split of ``dataset`` if its files are on this machine (nothing is generated),
    else None."""
    try:
        if not locate(dataset, data_root).root.is_dir():
            return None
        adapter = get_dataset(dataset, data_root=data_root)
        return adapter.load_split(name or adapter.train_split(1))
    except (OmniBenchError, OSError):
        return None  # no data here: the data-root check says so where it matters


def _warmup(spec: RunSpec, where: Where) -> list[Finding]:
    epochs, warmup = spec.optim.epochs, spec.optim.warmup_epochs
    if not 0 < epochs <= warmup:
        return []
    return [
        Finding(
            where(spec, "optim.epochs"),
            f"optim.epochs={epochs} is not above "
            f"optim.warmup_epochs={warmup:g}: the learning rate never "
            "leaves its warm-up ramp and the model may "
            "stay at chance; lower optim.warmup_epochs too "
            "(e.g. --set optim.warmup_epochs=0)",
            error=False,
        )
    ]
