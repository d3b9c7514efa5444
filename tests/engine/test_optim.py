"""AdamW parameter groups and the per-iteration cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from omnibench.config.spec import OptimSpec
from omnibench.engine.optim import BETAS, build_optimizer, build_scheduler, min_lr, param_groups


class TwoPart(nn.Module):
    """A pretrained-like part and a 'new' part, with biases, norms and an embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.positional_embedding = nn.Parameter(torch.zeros(3, 4))
        self.head = nn.Linear(4, 2)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


def _group_of(groups: list[dict], name: str) -> dict:
    return next(g for g in groups if name in g["names"])


def test_groups_split_decay_and_new_modules() -> None:
    optim = OptimSpec(lr=1e-3, weight_decay=0.05, new_module_lr_mult=10)
    groups = param_groups(TwoPart(), optim, new_names={"head.weight", "head.bias"})
    assert _group_of(groups, "backbone.weight")["weight_decay"] == 0.05
    assert _group_of(groups, "backbone.weight")["lr"] == pytest.approx(1e-3)
    for name in ("backbone.bias", "norm.weight", "norm.bias", "positional_embedding"):
        assert _group_of(groups, name)["weight_decay"] == 0.0, name
    assert _group_of(groups, "head.weight")["lr"] == pytest.approx(1e-2)
    assert _group_of(groups, "head.weight")["weight_decay"] == 0.05
    assert _group_of(groups, "head.bias")["weight_decay"] == 0.0
    names = {n for g in groups for n in g["names"]}
    assert not any(n.startswith("frozen") for n in names)


def test_a_model_may_decay_every_parameter_in_one_group() -> None:
    """ViFi-CLIP's optimiser: one AdamW group, weight decay on biases, norms and embeddings too."""
    model = TwoPart()
    model.decay_every_parameter = True
    groups = param_groups(model, OptimSpec(lr=1e-3, weight_decay=0.05))
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.05
    assert set(groups[0]["names"]) == {
        "backbone.weight",
        "backbone.bias",
        "norm.weight",
        "norm.bias",
        "positional_embedding",
        "head.weight",
        "head.bias",
    }


def test_optimizer_is_adamw_with_clip_betas() -> None:
    optimizer = build_optimizer(TwoPart(), OptimSpec())
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["betas"] == BETAS == (0.9, 0.98)


def _cosine(t: int, total: int, top: float, floor: float) -> float:
    return floor + 0.5 * (top - floor) * (1 + math.cos(math.pi * t / total))


def test_cosine_schedule_warms_up_then_decays_to_min_lr() -> None:
    """timm semantics as in X-CLIP: warmup counted inside t_initial (warmup_prefix=False)."""
    optim = OptimSpec(lr=1e-3, epochs=10, warmup_epochs=2, new_module_lr_mult=10)
    optimizer = build_optimizer(TwoPart(), optim, new_names={"head.weight"})
    scheduler = build_scheduler(optimizer, optim, iterations_per_epoch=5)
    lrs, new_lrs = [], []
    for step in range(1, 51):
        scheduler.step_update(step)
        lrs.append(optimizer.param_groups[0]["lr"])
        new_lrs.append(next(g["lr"] for g in optimizer.param_groups if "head.weight" in g["names"]))
    for step in range(1, 10):  # linear warmup from 0 over 10 steps
        assert lrs[step - 1] == pytest.approx(1e-3 * step / 10)
        assert new_lrs[step - 1] == pytest.approx(1e-2 * step / 10)
    for step in (10, 30, 50):
        assert lrs[step - 1] == pytest.approx(_cosine(step, 50, 1e-3, 1e-5))
    assert all(a > b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(min_lr(optim)) == pytest.approx(1e-5)
    assert new_lrs[-1] == pytest.approx(1e-5)  # every group ends at the same min LR (X-CLIP)


def test_which_parameters_skip_weight_decay() -> None:
    """By name and shape: a 2-D ``.bias`` skips it, an embedding table's ``.weight`` (the last name
    is ``weight``) decays, a parameter named ``*embedding`` skips it, other matrices decay."""
    from omnibench.engine.optim import skips_weight_decay

    matrix, vector = torch.zeros(2, 2), torch.zeros(2)
    assert skips_weight_decay("proj.bias", matrix)
    assert not skips_weight_decay("proj.BIAS", matrix) and not skips_weight_decay(
        "bias_proj", matrix
    )
    assert not skips_weight_decay("token_embedding.weight", matrix)
    assert skips_weight_decay("visual.positional_embedding", matrix)
    assert skips_weight_decay("ln.weight", vector) and not skips_weight_decay("proj.weight", matrix)


def test_min_lr_is_the_spec_value_when_set_and_lr_over_100_otherwise() -> None:
    assert min_lr(OptimSpec(lr=1e-3, min_lr=5e-6)) == 5e-6
    assert min_lr(OptimSpec(lr=1e-3)) == pytest.approx(1e-5)


def test_a_model_without_trainable_parameters_is_refused() -> None:
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="^the model has no trainable parameters$"):
        build_optimizer(model, OptimSpec(lr=1e-3))


def test_a_one_step_run_reaches_min_lr_at_its_step() -> None:
    """One epoch of one step, no warmup: the cosine spans one step, so that step (update 1) is at
    the min LR; over two steps it would be halfway, (1e-3 + 1e-5) / 2."""
    optim = OptimSpec(lr=1e-3, epochs=1, warmup_epochs=0)
    optimizer = build_optimizer(TwoPart(), optim)
    scheduler = build_scheduler(optimizer, optim, iterations_per_epoch=1)
    scheduler.step_update(1)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-5)


def test_frozen_parameters_are_left_out_wherever_they_come() -> None:
    model = nn.Sequential(nn.Linear(2, 2).requires_grad_(False), nn.Linear(2, 2))
    groups = param_groups(model, OptimSpec(lr=1e-3))
    assert sorted(name for g in groups for name in g["names"]) == ["1.bias", "1.weight"]
