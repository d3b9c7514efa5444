"""Pretrained CLIP weights: where they come from and which activation their blocks were trained
with.

OpenAI's CLIP (what all three papers fine-tune) uses QuickGELU, x·σ(1.702x), in every block;
open_clip's plain ``ViT-B-16`` config uses exact GELU. Weights loaded into blocks with the other
activation give subtly wrong features and no error, so the activation is never guessed:

* an open_clip tag (``openai``) carries it in open_clip's pretrained registry;
* a TorchScript archive (OpenAI's own ``ViT-B-16.pt``, as the ``clip`` package caches it) names
  its activation modules' classes (``QuickGELU`` or ``GELU``);
* a state-dict file with an ``open_clip_config.json`` beside it (a Hugging Face snapshot) has
  ``model_cfg.quick_gelu``;
* otherwise it must be stated: ``model.options.activation`` or a ``-quickgelu`` backbone name.

The activation the built blocks actually use goes into the run record (:class:`WeightsInfo`), and
so does which published weights a local file is: OpenAI's files are named by their SHA-256 in
open_clip's download addresses, so a copy on an offline cluster counts as the ``openai`` tag
(the papers' weights) and any other file does not.

This module imports no torch (suite checks use it); reading an archive is
:mod:`omnibench.models.archive`, loading is :mod:`omnibench.models.backbone`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

from omnibench.errors import OmniBenchError
from omnibench.models.catalogue import backbone_configs, pretrained_cfg, pretrained_tags

SIDECAR = "open_clip_config.json"  # open_clip's config file in a Hugging Face snapshot
STATE_HINT = (
    "set model.options.activation: quick_gelu for OpenAI's CLIP weights (what the papers use) "
    "or gelu for weights trained with exact GELU"
)


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """What the run record says about the backbone's weights: source kind and activation."""

    pretrained: str | None
    kind: str  # "random init" | "open_clip tag" | "TorchScript archive" | "state-dict file"
    activation: str  # of the built blocks: "quick_gelu" | "gelu"
    activation_source: str  # how it was known
    published_as: str | None = None  # a local file that is the published file of this open_clip tag

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the record's ``weights`` block)."""
        return dataclasses.asdict(self)


def published_tag(backbone: str, path: Path) -> str | None:
    """The open_clip tag of ``backbone`` whose published file ``path`` is (same SHA-256), else
    None."""
    digests = {}
    for tag in pretrained_tags(backbone):
        parts = str(pretrained_cfg(backbone, tag).get("url", "")).split("/")
        if len(parts) > 1 and re.fullmatch(r"[0-9a-f]{64}", parts[-2]):  # .../<sha256>/<name>.pt
            digests[parts[-2]] = tag
    if not digests:
        return None
    with open(path, "rb") as handle:
        return digests.get(hashlib.file_digest(handle, "sha256").hexdigest())


def is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with compiled code), not a ``torch.save``
    file."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") for name in archive.namelist())


def sidecar_activation(path: Path) -> str | None:
    """The activation that an ``open_clip_config.json`` beside ``path`` declares (None: no such
    file)."""
    config_path = path.parent / SIDECAR
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise OmniBenchError(f"{config_path}: not a readable open_clip config ({err})") from None
    model_cfg = config.get("model_cfg", config)
    return "quick_gelu" if model_cfg.get("quick_gelu", False) else "gelu"


def backbone_activation(backbone: str) -> str | None:
    """``quick_gelu`` where the backbone's config says so (``*-quickgelu`` names, or a config
    registered with open_clip at run time), else None (unstated)."""
    config = live_config(backbone) or backbone_configs().get(backbone, {})
    return "quick_gelu" if config.get("quick_gelu", False) else None


def live_config(backbone: str) -> dict[str, Any] | None:
    """open_clip's own config of ``backbone`` once open_clip is loaded: it also knows the configs
    added with ``open_clip.add_model_config`` at run time, which the file catalogue cannot."""
    factory = sys.modules.get("open_clip.factory")
    return None if factory is None else factory.get_model_config(backbone)


def stated_activation(backbone: str, stated: str | None) -> tuple[str, str] | None:
    """The activation the user stated (option or ``-quickgelu`` backbone name) and where; None if
    neither."""
    named = backbone_activation(backbone)
    if stated is not None and named is not None and stated != named:
        raise OmniBenchError(
            f"model.options.activation says {stated} but backbone '{backbone}' says {named}"
        )
    if stated is not None:
        return stated, "model.options.activation"
    return None if named is None else (named, f"backbone config '{backbone}' (quick_gelu: true)")


def agree(found: str, found_where: str, backbone: str, stated: str | None) -> str:
    """``found`` (detected in the weights), unless the user stated otherwise (then a one-line
    error)."""
    claim = stated_activation(backbone, stated)
    if claim is not None and claim[0] != found:
        raise OmniBenchError(
            f"{claim[1]} says {claim[0]} but {found_where} says {found}; remove or correct it"
        )
    return found


def file_activation(backbone: str, path: Path, stated: str | None) -> tuple[str, str]:
    """Activation of a state-dict file and how it is known: its sidecar config, else what was
    stated."""
    declared = sidecar_activation(path)
    if declared is not None:
        return agree(
            declared, str(path.parent / SIDECAR), backbone, stated
        ), f"{SIDECAR} beside the file"
    claim = stated_activation(backbone, stated)
    if claim is None:
        raise OmniBenchError(
            f"model.pretrained {path} is a state dict that "
            "does not say which activation its blocks were "
            f"trained with: {STATE_HINT}{quickgelu_hint(backbone)}"
        )
    return claim


def quickgelu_hint(backbone: str) -> str:
    """ " (or backbone 'X-quickgelu')" where open_clip has such a config."""
    name = f"{backbone}-quickgelu"
    return f" (or backbone '{name}')" if name in backbone_configs() else ""


def check_weights_file(path: Path) -> None:
    """Refuse, in one line, a file that is no weights file at all: neither ``torch.save``'s zip or
    pickle, nor safetensors (read from its first bytes; whether its tensors fit is checked when
    loaded)."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    safetensors = len(head) == 9 and head[8:9] == b"{"  # 8-byte header length, then JSON
    if head.startswith((b"PK\x03\x04", b"\x80")) or safetensors:  # zip; pickle protocol >= 2
        return
    shown = head[:8].hex(" ") or "nothing: the file is empty"
    raise OmniBenchError(
        f"model.pretrained {path} is not a weights file: neither torch.save's zip or pickle nor "
        f"safetensors (it starts with {shown})"
    )


def check_statement(backbone: str, pretrained: str | None, stated: str | None) -> None:
    """Before anything runs (``omnibench validate``): a local state dict must be a weights file
    and have its activation declared or stated. Cheap: reads no weights (archives and tags are
    checked when loaded)."""
    path = Path(pretrained).expanduser() if pretrained else None
    if path is not None and path.is_file() and not is_torchscript(path):
        check_weights_file(path)
        file_activation(backbone, path, stated)


def random_init_activation(backbone: str, stated: str | None) -> tuple[str, str]:
    """Random weights: the stated activation, else the backbone config's."""
    return stated_activation(backbone, stated) or (
        "gelu",
        f"backbone config '{backbone}' (random init)",
    )


def offline_hint(backbone: str, tag: str) -> str:
    """Where the weights of ``backbone``/``tag`` come from offline: the Hugging Face repository,
    else a file."""
    repo = hub_repository(backbone, tag)
    cache = (
        f"pre-fill the Hugging Face cache with repository {repo} and set HF_HUB_OFFLINE=1, or "
        if repo
        else ""
    )
    return (
        f"{cache}pass a local checkpoint file instead, e.g. "
        f"model.pretrained: /path/to/{backbone}-{tag}.pt"
    )


def hub_repository(backbone: str, tag: str) -> str | None:
    """The Hugging Face repository id open_clip reads ``backbone``/``tag`` from (None: URL only)."""
    hub = pretrained_cfg(backbone, tag).get("hf_hub", "")
    return "/".join(hub.split("/")[:2]) or None  # "org/name/" or "org/name/file.bin" -> "org/name"


def tag_in_cache(backbone: str, tag: str) -> bool:
    """True when the weights of ``backbone``/``tag`` are already on this machine, where open_clip
    looks first: the Hugging Face cache for a hub entry, else ``~/.cache/clip`` for a URL."""
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

    cfg = pretrained_cfg(backbone, tag)
    hub = cfg.get("hf_hub", "")
    if hub:
        repo, _, name = hub.rpartition(
            "/"
        )  # "org/model/" (open_clip's default file names) or "org/model/file"
        names = (
            [str(Path(name).with_suffix(".safetensors")), name]
            if name
            else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        )
        return any(isinstance(try_to_load_from_cache(repo, n), str) for n in names)
    url = cfg.get("url", "")
    return bool(url) and (Path("~/.cache/clip").expanduser() / Path(url).name).is_file()
