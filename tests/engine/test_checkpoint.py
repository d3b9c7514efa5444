"""Checkpoints: atomic, weights_only-loadable, complete; RNG states round-trip."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from omnibench.config.spec import OptimSpec
from omnibench.engine import checkpoint as ckpt
from omnibench.engine.optim import build_optimizer, build_scheduler
from omnibench.engine.seeding import (
    capture_rng_state,
    derive_seed,
    restore_rng_state,
    seed_everything,
)
from omnibench.errors import OmniBenchError
from omnibench.store.revisions import computed_by


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_rng_state_round_trip_through_weights_only_file(tmp_path) -> None:
    seed_everything(3)
    _draws()
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = capture_rng_state()
    expected = _draws()
    ckpt.atomic_save({"rng": state}, tmp_path / "rng.pt")
    _draws()
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    assert _draws() == expected


def test_data_fingerprint_depends_on_paths_labels_and_order() -> None:
    items = [("a.mp4", 0), ("b.mp4", 1)]
    assert ckpt.data_fingerprint(items) == ckpt.data_fingerprint(list(items))
    assert (
        len(
            {
                ckpt.data_fingerprint(items),
                ckpt.data_fingerprint(items[::-1]),
                ckpt.data_fingerprint([("a.mp4", 1), ("b.mp4", 1)]),
            }
        )
        == 3
    )


def test_derive_seed_is_stable_and_mixes_every_part() -> None:
    assert derive_seed(1024, 3, 7, 0) == derive_seed(1024, 3, 7, 0)
    seeds = {derive_seed(1024, e, s, r) for e in range(3) for s in range(3) for r in range(2)}
    assert len(seeds) == 18


def _trained(tmp_path, steps: int) -> tuple[nn.Module, torch.optim.Optimizer, object]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    optim = OptimSpec(lr=1e-2, epochs=2, warmup_epochs=0)
    optimizer = build_optimizer(model, optim)
    scheduler = build_scheduler(optimizer, optim, iterations_per_epoch=4)
    for step in range(steps):
        scheduler.step_update(step + 1)
        model(torch.randn(5, 3)).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def test_checkpoint_round_trip_restores_training_state(tmp_path) -> None:
    model, optimizer, scheduler = _trained(tmp_path, steps=3)
    path = tmp_path / "run" / "checkpoint.pt"
    position = ckpt.TrainPosition(epoch=0, step=3, global_step=3)
    stats = ckpt.TrainStats(
        train_seconds=1.5, clips=15, skipped=1, history=[{"epoch": 1, "loss": 0.5, "lr": 0.01}]
    )
    ckpt.save_checkpoint(
        path,
        run_id="abc",
        data="d1",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=None,
        ranks=[{"rng": capture_rng_state(), "skipped": 1}],
        position=position,
        stats=stats,
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]  # no temp file left
    state = ckpt.read_checkpoint(path, "abc")
    assert "0.weight" not in state["model"]  # frozen weights are rebuilt, not stored
    fresh, fresh_opt, fresh_sched = _trained(tmp_path, steps=0)
    ckpt.load_trainable_state(fresh, state["model"], path)
    fresh_opt.load_state_dict(state["optimizer"])
    fresh_sched.load_state_dict(state["scheduler"])
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    assert fresh_opt.state_dict()["state"][0]["exp_avg"].equal(
        optimizer.state_dict()["state"][0]["exp_avg"]
    )
    assert ckpt.restore_position(state) == (position, stats)


def _saved_after_one_step(tmp_path: Path, computed_by: dict | None = None) -> Path:
    """``checkpoint.pt`` of run ``abc`` on training list ``d1``, one step into training."""
    model, optimizer, scheduler = _trained(tmp_path, steps=1)
    path = tmp_path / "checkpoint.pt"
    ckpt.save_checkpoint(
        path,
        run_id="abc",
        data="d1",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=None,
        ranks=[],
        position=ckpt.TrainPosition(),
        stats=ckpt.TrainStats(),
        computed_by=computed_by,
    )
    return path


def test_a_checkpoint_of_other_revisions_or_options_is_not_resumed(tmp_path) -> None:
    """Training that other model / protocol revisions (or option defaults) did must not continue
    under today's: the trainer starts over (``checkpoint_change`` says why)."""
    spec = {"protocol": "few_shot", "model": {"name": "omniclip", "options": {}}}
    now = computed_by(spec)
    for stamp in (now, {**now, "model": {**now["model"], "revision": 0}}, None):
        path = _saved_after_one_step(tmp_path, stamp)
        change = ckpt.checkpoint_change(ckpt.read_checkpoint(path, "abc"), now)
        if stamp is now:
            assert change is None
        elif stamp is None:
            assert change == "it does not record which model and protocol revisions trained it"
        else:
            assert change.startswith("made by model omniclip revision 0, now revision ")


def test_foreign_or_broken_checkpoint_is_a_clear_error(tmp_path) -> None:
    path = _saved_after_one_step(tmp_path)
    with pytest.raises(OmniBenchError, match="belongs to run 'abc'"):
        ckpt.read_checkpoint(path, "other")
    with pytest.raises(OmniBenchError, match="trained on another training list"):
        ckpt.read_checkpoint(path, "abc", data="d2")
    assert ckpt.read_checkpoint(path, "abc", data="d1")["run_id"] == "abc"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(OmniBenchError, match="unreadable checkpoint"):
        ckpt.read_checkpoint(path, "abc")
    assert ckpt.read_checkpoint(tmp_path / "absent.pt", "abc") is None


def test_checkpoint_of_another_model_is_refused(tmp_path) -> None:
    path = _saved_after_one_step(tmp_path)
    other = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 5))
    with pytest.raises(OmniBenchError, match="does not match the model"):
        ckpt.load_trainable_state(other, ckpt.read_checkpoint(path, "abc")["model"], path)
