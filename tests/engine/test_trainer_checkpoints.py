"""The trainer's checkpoints: resuming mid-epoch or at an epoch's end repeats the uninterrupted
run bitwise, a checkpoint another model revision trained is not resumed, and a checkpoint that
falls on an epoch's end is written once."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from omnibench.engine import checkpoint as ckpt
from omnibench.engine.trainer import Trainer
from omnibench.store.revisions import computed_by
from tests.engine.test_trainer import ColourClips, trainable, trainer_for, untrained


def test_resuming_a_mid_epoch_checkpoint_repeats_the_uninterrupted_run(tmp_path: Path) -> None:
    """Checkpoints every 3 optimiser steps and at each epoch's end; resuming from step 3 ends
    bitwise where the uninterrupted run ended (same parameters, history and clip count)."""
    model, path = untrained(), tmp_path / "checkpoint.pt"
    settings = {
        "epochs": 2,
        "lr": 1e-2,
        "warmup_epochs": 1,
        "batch_per_device": 2,
        "checkpoint_every": 3,
    }
    trainer = trainer_for(model, ColourClips(32, seed=0), path, **settings)
    saved: list[tuple[int, int, int]] = []
    save = trainer._save

    def save_and_keep() -> None:
        save()
        saved.append(dataclasses.astuple(trainer.position))
        shutil.copy(path, tmp_path / f"step{trainer.position.global_step}.pt")

    trainer._save = save_and_keep
    whole = trainer.fit()
    assert saved == [(0, 3, 3), (1, 0, 4), (1, 2, 6), (2, 0, 8)]
    stored = ckpt.read_checkpoint(path, "test")
    assert ckpt.restore_position(stored) == (whole.position, whole.stats)

    for step in (3, 4):  # mid-epoch, then at the first epoch's end
        resumed_model, resumed_path = untrained(), tmp_path / f"resumed{step}.pt"
        shutil.copy(tmp_path / f"step{step}.pt", resumed_path)
        before = ckpt.restore_position(ckpt.read_checkpoint(resumed_path, "test"))[1]
        resumed = trainer_for(
            resumed_model, ColourClips(32, seed=0), resumed_path, **settings
        ).fit()
        assert resumed.position == whole.position
        assert resumed.stats.clips == whole.stats.clips == 64
        assert resumed.stats.history == whole.stats.history
        assert resumed.resumed_seconds == before.train_seconds > 0
        for name, value in trainable(model).items():
            assert torch.equal(trainable(resumed_model)[name], value), (step, name)


def test_a_checkpoint_that_other_revisions_trained_is_not_resumed(tmp_path: Path) -> None:
    """Training stamped with one model revision resumes under it; under another it starts over
    (a run must not finish old code's training and record today's revision)."""
    path = tmp_path / "checkpoint.pt"
    spec = {"protocol": "supervised", "model": {"name": "omniclip", "options": {}}}
    stamp = computed_by(spec)
    older = {**stamp, "model": {**stamp["model"], "revision": stamp["model"]["revision"] - 1}}

    def trainer(made: dict) -> Trainer:
        made_trainer = trainer_for(untrained(), ColourClips(8, seed=0), path, epochs=2, lr=1e-3)
        made_trainer.config = dataclasses.replace(made_trainer.config, computed_by=made)
        return made_trainer

    first = trainer(older)
    first.position = ckpt.TrainPosition(epoch=1, step=0, global_step=1)
    first._save()
    again = trainer(older)
    again._resume()
    assert again.position.global_step == 1
    today = trainer(stamp)
    today._resume()
    assert dataclasses.astuple(today.position) == (0, 0, 0)


def test_a_checkpoint_falling_on_an_epochs_end_is_written_once() -> None:
    """Every 2 steps in epochs of 4: mid-epoch at step 2, and at step 4 by the epoch's end only
    (its position already the next epoch's start)."""
    trainer = trainer_for(
        untrained(), ColourClips(32, seed=0), epochs=1, lr=1e-3, checkpoint_every=2
    )
    saved: list[tuple[int, int, int]] = []
    trainer._save = lambda: saved.append(dataclasses.astuple(trainer.position))  # type: ignore[method-assign]
    trainer.fit()
    assert saved == [(0, 2, 2), (1, 0, 4)]
