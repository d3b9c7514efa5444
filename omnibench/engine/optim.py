"""AdamW parameter groups and the per-iteration cosine schedule (timm, as X-CLIP builds it).

Follows X-CLIP's ``utils/optimizer.py`` (see ../shared/reference/CONFIG_NOTES.md): betas
(0.9, 0.98), eps 1e-8, no weight decay on 1-D parameters, biases and embeddings, and
newly added modules at ``new_module_lr_mult`` x the base LR (X-CLIP uses 10). A model whose
``decay_every_parameter`` is true (ViFi-CLIP, VL prompting) gets ViFi-CLIP's single group:
weight decay on every trainable parameter.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from timm.scheduler import CosineLRScheduler
from torch import nn

from omnibench.config.spec import OptimSpec

BETAS = (0.9, 0.98)
EPS = 1e-8


def skips_weight_decay(name: str, param: torch.Tensor) -> bool:
    """True for 1-D parameters (norms, scales), biases and embeddings."""
    return param.ndim <= 1 or name.endswith(".bias") or "embedding" in name.split(".")[-1]


def param_groups(model: nn.Module, optim: OptimSpec, new_names: Iterable[str] = ()) -> list[dict]:
    """Trainable parameters in up to four groups: (decay | no decay) x (pretrained | new)."""
    new = set(new_names)
    decay_all = bool(getattr(model, "decay_every_parameter", False))
    groups: dict[tuple[bool, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        key = (not decay_all and skips_weight_decay(name, param), name in new)
        group = groups.setdefault(
            key,
            {
                "params": [],
                "names": [],
                "weight_decay": 0.0 if key[0] else optim.weight_decay,
                "lr": optim.lr * (optim.new_module_lr_mult if key[1] else 1.0),
            },
        )
        group["params"].append(param)
        group["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def build_optimizer(
    model: nn.Module, optim: OptimSpec, new_names: Iterable[str] = ()
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (the parameter names stay in each group for logging)."""
    groups = param_groups(model, optim, new_names)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.AdamW(groups, betas=BETAS, eps=EPS)


def min_lr(optim: OptimSpec) -> float:
    """The floor of the cosine: ``optim.min_lr`` or, by default, ``lr / 100`` (X-CLIP, OmniCLIP
    Table 1)."""
    return optim.lr / 100 if optim.min_lr is None else optim.min_lr


def build_scheduler(
    optimizer: torch.optim.Optimizer, optim: OptimSpec, iterations_per_epoch: int
) -> CosineLRScheduler:
    """Cosine from each group's LR down to the min LR after a linear warm-up from 0, counted in
    ``iterations_per_epoch`` (micro-batches, as X-CLIP's and ViFi-CLIP's ``build_scheduler``).

    Built, it sets the warm-up's initial LR; ``scheduler.step_update(i)`` after an optimiser step
    sets the LR of iteration ``i`` for the next one (:mod:`omnibench.engine.trainer`).
    """
    total = max(1, int(optim.epochs * iterations_per_epoch))
    return CosineLRScheduler(
        optimizer,
        t_initial=total,
        lr_min=min_lr(optim),
        warmup_lr_init=0.0,
        warmup_t=int(optim.warmup_epochs * iterations_per_epoch),
        cycle_limit=1,
        t_in_epochs=False,
    )
