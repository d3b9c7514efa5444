"""open_clip's catalogue read without torch answers exactly as open_clip itself."""

from __future__ import annotations

import json
import subprocess
import sys

import omnibench.compat  # noqa: F401  (before open_clip)

import open_clip

from omnibench.models import catalogue
from omnibench.models.backbone import register_tiny_configs


def test_backbones_are_open_clips_models_with_omnibenchs_configs() -> None:
    register_tiny_configs()
    assert catalogue.backbone_names() == sorted(open_clip.list_models())
    for name in ("ViT-B-16", "omnibench-tiny-vit"):
        assert catalogue.backbone_configs()[name] == open_clip.get_model_config(name)


def test_pretrained_tags_and_entries_are_open_clips_read_without_torch() -> None:
    """A fresh process lists every model's tags and entries without loading torch; they equal
    the installed open_clip's (a wrong file, a stale copy or a dropped entry would differ)."""
    code = (
        "import json, sys\nfrom omnibench.models import catalogue\n"
        "names = catalogue.backbone_names()\n"
        "out = {m: {t: catalogue.pretrained_cfg(m, t) for t in catalogue.pretrained_tags(m)}"
        " for m in names}\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout)
    expected = {
        model: {
            tag: json.loads(json.dumps(open_clip.get_pretrained_cfg(model, tag)))
            for tag in open_clip.list_pretrained_tags_by_model(model)
        }
        for model in read
    }
    assert read == expected
    assert read["ViT-B-16"]["openai"]["quick_gelu"] is True


def test_with_torch_loaded_the_tags_come_from_open_clip_itself() -> None:
    catalogue._registry.cache_clear()
    try:
        assert catalogue._registry() is sys.modules["open_clip.pretrained"]
        assert catalogue.pretrained_tags("ViT-B-16") == (
            open_clip.list_pretrained_tags_by_model("ViT-B-16")
        )
    finally:
        catalogue._registry.cache_clear()
