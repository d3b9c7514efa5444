"""The run record (``record.json``): everything a report needs about one finished run.

Schema: docs/ARCHITECTURE.md ("The run record"). Fields may be added, never renamed.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omnibench.config.spec import RunSpec
from omnibench.store.acceptance import sha256_file
from omnibench.store.revisions import COMPUTED_BY, computed_by

VERSIONED = ("torch", "open_clip_torch", "decord", "fvcore", "timm")


def file_hashes(paths: Iterable[Path]) -> dict[str, str]:
    """``{path: sha256}`` of every existing annotation / split / list file, sorted by path."""
    unique = sorted({str(Path(p).resolve()) for p in paths})
    return {p: sha256_file(Path(p)) for p in unique if Path(p).is_file()}


def git_state(where: Path | None = None) -> dict[str, Any]:
    """``{"sha", "dirty"}`` of the checkout holding omnibench (nulls outside a git checkout)."""
    cwd = where or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}
    if sha.returncode != 0:
        return {"sha": None, "dirty": None}
    return {
        "sha": sha.stdout.strip(),
        "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None,
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, Any]:
    """Python, library, CUDA and GPU versions."""
    import torch  # noqa: PLC0415 (keeps this module torch-free)

    out: dict[str, Any] = {"python": platform.python_version(), "omnibench": _version("omnibench")}
    out.update({name.replace("_torch", ""): _version(name) for name in VERSIONED})
    out["cuda"] = torch.version.cuda
    out["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return out


def build_record(
    *,
    spec: RunSpec,
    suite: str,
    classes: Sequence[str],
    files: Iterable[Path],
    cost: Mapping[str, Any],
    wall_time_s: float,
    clips_per_s: float,
    skipped: Mapping[str, int],
    metrics: Mapping[str, float],
    evaluations: Sequence[Mapping[str, Any]],
    weights: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the record; ``weights``: the backbone's weights source and activation
    (``WeightsInfo.to_dict()``); ``extra`` adds protocol-specific fields (training history,
    shots...)."""
    record = {
        "run_id": spec.run_id(),
        "suite": suite,
        "spec": spec.to_dict(),
        COMPUTED_BY: computed_by(spec.to_dict()),
        "seeds": {"seed": spec.seed, "data_seed": spec.data_seed},
        "git": git_state(),
        "versions": versions(),
        "files": file_hashes(files),
        "classes": list(classes),
        "cost": dict(cost),
        "weights": dict(weights) if weights is not None else None,
        "wall_time_s": float(wall_time_s),
        "clips_per_s": float(clips_per_s),
        "skipped_videos": {
            "train": int(skipped.get("train", 0)),
            "eval": int(skipped.get("eval", 0)),
        },
        "leakage_override": bool(spec.allow_leakage),
        "metrics": dict(metrics),
        "evaluations": [dict(e) for e in evaluations],
    }
    record.update(extra or {})
    return record
