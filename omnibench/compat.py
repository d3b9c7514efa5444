"""Compatibility step for torchvision wheels whose C++ extension cannot load.

On CPU-only machines the registry's torchvision 0.28.0 is a CUDA build: its ``_C``
extension fails to load against CPU torch 2.13.0, and ``import torchvision`` then
raises "operator torchvision::nms does not exist" because
``torchvision/_meta_registrations.py`` registers fake kernels for ops that were never
defined. open_clip and timm import torchvision, so the whole package would break.

:func:`ensure_torchvision_ops` tries to load the extension exactly as torchvision does
and, *only if that fails*, defines the two op schemas that the fake registrations
need. Nothing omnibench uses calls those ops (they are detection kernels); with a
working extension (any normal install, GPU clusters) this module does nothing.

It runs from ``omnibench/__init__.py``, so it precedes every ``import open_clip``
in the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # keeps the torch.library.Library alive (its defs die with it)


def _extension_loads(package_dir: Path) -> bool:
    import torch  # noqa: PLC0415 (torch only where torchvision is installed)

    for candidate in sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(candidate))
            return True
        except (OSError, RuntimeError):
            return False
    return False


def ensure_torchvision_ops() -> bool:
    """Define missing ``torchvision::`` op schemas when its extension fails; return True if it
    did."""
    global _library
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations or _library is not None:
        return False
    if _extension_loads(Path(next(iter(spec.submodule_search_locations)))):
        return False
    import torch  # noqa: PLC0415 (torch only where torchvision is installed)

    _library = torch.library.Library("torchvision", "DEF")
    for name, schema in _SCHEMAS.items():
        if not hasattr(torch.ops.torchvision, name):
            _library.define(schema)
    return True


ensure_torchvision_ops()
