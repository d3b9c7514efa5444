"""open_clip's catalogue, read without torch: the backbones it can build (its model-config JSON
files and omnibench's ``configs/``) and the pretrained tags of each.

``validate`` and ``--dry-run`` ask only these questions, and importing open_clip costs seconds
(torch, torchvision). Its model configs are plain JSON files; its pretrained registry
(``open_clip/pretrained.py``) needs only the standard library, tqdm and huggingface_hub. So,
until torch is loaded anyway, that one module is loaded on its own, under a private package
name, with its optional ``safetensors.torch`` import held off (it serves downloads only). A
test checks that both answers equal ``open_clip.list_models()`` and open_clip's tags.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).parent / "configs"  # omnibench's tiny backbones (tests, the demo)
CONFIG_KEYS = ("embed_dim", "vision_cfg", "text_cfg")  # what makes a JSON file a model config
PRIVATE_PACKAGE = "omnibench._open_clip_registry"


def open_clip_dir() -> Path:
    """The installed open_clip package's folder (found without importing it)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("open_clip is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def backbone_configs() -> dict[str, dict[str, Any]]:
    """Every backbone open_clip can build once omnibench's configs are added: name -> config."""
    configs: dict[str, dict[str, Any]] = {}
    for folder in (open_clip_dir() / "model_configs", CONFIG_DIR):
        for path in sorted(folder.glob("*.json")):
            config = json.loads(path.read_text())
            if all(key in config for key in CONFIG_KEYS):
                configs[path.stem] = config
    return configs


def backbone_names() -> list[str]:
    """The backbone names, sorted."""
    return sorted(backbone_configs())


def pretrained_tags(backbone: str) -> list[str]:
    """The pretrained tags open_clip has for ``backbone`` (e.g. ``openai``)."""
    return list(_registry().list_pretrained_tags_by_model(backbone))


def pretrained_cfg(backbone: str, tag: str) -> dict[str, Any]:
    """open_clip's entry for ``backbone``/``tag``: ``url``, ``hf_hub``, ``quick_gelu``, ..."""
    return dict(_registry().get_pretrained_cfg(backbone, tag))


@functools.cache
def _registry() -> types.ModuleType:
    """open_clip's ``pretrained`` module: open_clip's own once torch is loaded, else a private copy
    loaded without the package (and so without torch)."""
    if "torch" not in sys.modules:
        try:
            return _load_registry_alone()
        except ImportError:
            pass  # a later open_clip that needs more: its own import below answers
    import omnibench.compat  # noqa: F401, PLC0415  (before open_clip, which imports torchvision)

    return importlib.import_module("open_clip.pretrained")


def _load_registry_alone() -> types.ModuleType:
    """``open_clip/pretrained.py`` (and its relative imports) under :data:`PRIVATE_PACKAGE`; called
    only while torch is not loaded, so ``safetensors.torch`` is not loaded either."""
    package = types.ModuleType(PRIVATE_PACKAGE)
    package.__path__ = [str(open_clip_dir())]
    sys.modules[PRIVATE_PACKAGE] = package
    sys.modules["safetensors.torch"] = None  # type: ignore[assignment]  # its import: ImportError
    try:
        return importlib.import_module(f"{PRIVATE_PACKAGE}.pretrained")
    except ImportError:
        del sys.modules[PRIVATE_PACKAGE]
        raise
    finally:
        del sys.modules["safetensors.torch"]
