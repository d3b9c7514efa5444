"""The torchvision compatibility step runs before every open_clip / timm / torchvision import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "omnibench"
VISION_IMPORT = re.compile(r"^\s*(import|from)\s+(open_clip|timm|torchvision)\b", re.MULTILINE)
COMPAT_IMPORT = re.compile(
    r"^(import omnibench\.compat|from omnibench import compat|from omnibench\.compat import)",
    re.MULTILINE,
)


def _guarded(path: Path) -> bool:
    """A file is guarded if it imports compat itself or lives in a package whose __init__ does."""
    if COMPAT_IMPORT.search(path.read_text()):
        return True
    for parent in path.parents:
        if parent == PACKAGE:
            return False
        init = parent / "__init__.py"
        if init.exists() and COMPAT_IMPORT.search(init.read_text()):
            return True
    return False


def test_every_vision_import_in_the_package_is_preceded_by_the_compat_step() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "compat.py" and VISION_IMPORT.search(p.read_text()) and not _guarded(p)
    ]
    assert offenders == []


def test_open_clip_and_timm_import_after_the_compat_step_in_a_fresh_interpreter() -> None:
    code = (
        "import omnibench.compat, open_clip, timm, torchvision, "
        "torch; print(hasattr(torch.ops.torchvision, 'nms'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_step_is_idempotent() -> None:
    from omnibench.compat import ensure_torchvision_ops

    ensure_torchvision_ops()
    assert ensure_torchvision_ops() is False
