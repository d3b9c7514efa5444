"""The training loop on an easy in-memory task: it learns, accumulation is the same batch in
several passes, and every optimiser step uses its scheduled learning rate."""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from omnibench.config.spec import ModelSpec, OptimSpec
from omnibench.data import VideoRecord, collate_clips
from omnibench.data.color import apply_color, color_map, identity_affine
from omnibench.data.transforms import normalization_stats
from omnibench.engine import checkpoint as ckpt
from omnibench.engine.distributed import DistContext
from omnibench.engine.evaluate import EvalSettings, evaluate
from omnibench.engine.progress import ProgressReporter
from omnibench.engine.trainer import TrainConfig, Trainer, TrainResult
from omnibench.models import build_model

FRAMES, SIZE = 4, 32
CLASSES = ("run", "jump", "swim", "climb")
CLIP_COLOR = color_map(
    identity_affine(), *normalization_stats("clip")
)  # normalisation only, no jitter
# No mixup / cutmix / smoothing: the loss of a batch is then its plain mean cross-entropy.
PLAIN = {"batch_size": 8, "mixup": 0.0, "cutmix": 0.0, "label_smoothing": 0.0, "min_lr": 1e-4}


class ColourClips(Dataset):
    """Noise clips where class c < 3 lifts colour channel c by 150 and class 3 lifts none
    (chance: 25 %)."""

    def __init__(self, size: int, seed: int, broken: int | None = None) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(size) % len(CLASSES)
        self.videos = torch.randint(
            0, 100, (size, 1, FRAMES, 3, SIZE, SIZE), generator=generator, dtype=torch.uint8
        )
        for video, label in zip(self.videos, self.labels.tolist()):
            if label < 3:
                video[:, :, label] += 150
        self.broken, self.epoch = broken, 0
        self.served: list[tuple[int, int]] = []  # (epoch, index) of every item read, in order

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, object]:
        self.served.append((self.epoch, index))
        if index == self.broken:
            return {"index": index, "broken": "truncated file"}
        return {
            "video": self.videos[index],
            "color": CLIP_COLOR[None],
            "label": int(self.labels[index]),
            "index": index,
        }


@dataclasses.dataclass
class Trained:
    """A finished training: the model, the trainer's totals, and what each optimiser step saw."""

    model: torch.nn.Module
    result: TrainResult
    lrs: list[float]  # group 0's learning rate at each optimiser step
    grads: list[dict[str, torch.Tensor]]  # the accumulated gradient at each optimiser step
    seconds: float = 0.0  # wall time of fit()


def untrained() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(
        ModelSpec(name="omniclip", backbone="omnibench-tiny-vit", pretrained=None), frames=FRAMES
    )


def trainer_for(
    model: torch.nn.Module,
    data: Dataset,
    checkpoint: Path | None = None,
    workers: int = 0,
    **optim: object,
) -> Trainer:
    config = TrainConfig(
        run_id="test",
        seed=3,
        optim=OptimSpec(**{**PLAIN, **optim}),
        collate=collate_clips,
        clip_shape=(FRAMES, 3, SIZE, SIZE),
        checkpoint_path=checkpoint,
        workers=workers,
    )
    return Trainer(
        model,
        data,
        CLASSES,
        config,
        DistContext(),
        ProgressReporter(False, active=False),
        model.new_parameter_names(),
    )


def train(**optim: object) -> Trained:
    model = untrained()
    trainer = trainer_for(model, ColourClips(32, seed=0), **optim)
    lrs: list[float] = []
    grads: list[dict[str, torch.Tensor]] = []

    def record(optimizer: torch.optim.Optimizer, *_: object) -> None:
        lrs.append(optimizer.param_groups[0]["lr"])
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})

    trainer.optimizer.register_step_pre_hook(record)
    began = time.perf_counter()
    result = trainer.fit()
    return Trained(model, result, lrs, grads, time.perf_counter() - began)


def trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}


@pytest.fixture()
def accumulated() -> Trained:
    """Batch 8 as 4 micro-batches of 2: 2 epochs of 4 optimiser steps.

    Function-scoped on purpose: mutation testing maps a test to the code it runs, and a cached
    fixture would hide the training from every test but the first.
    """
    return train(epochs=2, lr=1e-2, warmup_epochs=1, batch_per_device=2)


def test_loss_falls_and_held_out_accuracy_beats_chance() -> None:
    trained = train(epochs=4, lr=1e-2, warmup_epochs=0)
    losses = [entry["loss"] for entry in trained.result.stats.history]
    assert all(a > b for a, b in zip(losses, losses[1:])) and losses[-1] < 0.5 * losses[0], losses
    held_out = ColourClips(32, seed=1)
    records = [
        VideoRecord(Path(f"clip{i}.mp4"), int(label), "memory")
        for i, label in enumerate(held_out.labels)
    ]
    result = evaluate(
        trained.model,
        held_out,
        CLASSES,
        name=("colours", "held-out"),
        records=records,
        ctx=DistContext(),
        settings=EvalSettings(),
        progress=ProgressReporter(False, active=False),
        collate=collate_clips,
    )
    assert result.metrics["videos"] == 32 and result.metrics["top1"] >= 75.0  # chance is 25 %


def test_accumulation_equals_the_whole_batch_in_one_pass(accumulated: Trained) -> None:
    """The same 8 clips per step as 4 x 2 or 1 x 8: equal gradients, losses and parameters."""
    whole = train(epochs=2, lr=1e-2, warmup_epochs=1)
    assert (accumulated.result.accumulation, whole.result.accumulation) == (4, 1)
    assert accumulated.result.per_device_batch == 2 and accumulated.result.steps_per_epoch == 4
    assert (
        len(accumulated.grads) == len(whole.grads) == accumulated.result.position.global_step == 8
    )
    for step, (ours, theirs) in enumerate(zip(accumulated.grads, whole.grads)):
        assert ours.keys() == theirs.keys()
        for name in ours:
            torch.testing.assert_close(
                ours[name], theirs[name], atol=1e-6, rtol=1e-4, msg=f"step {step}: {name}"
            )
    history = [(h["loss"], h["lr"]) for h in accumulated.result.stats.history]
    assert [x for pair in history for x in pair] == pytest.approx(
        [h[key] for h in whole.result.stats.history for key in ("loss", "lr")], rel=1e-5
    )
    # Adam turns the last-bit differences of near-zero gradients into full steps, so the
    # parameters are compared as a whole: their difference against how far training moved them.
    start, ours, theirs = (
        torch.cat([p.flatten() for p in trainable(m).values()])
        for m in (untrained(), accumulated.model, whole.model)
    )
    assert (ours - theirs).norm() < 1e-3 * (theirs - start).norm()


def test_each_optimiser_step_uses_its_scheduled_learning_rate(accumulated: Trained) -> None:
    """Linear warmup over the first epoch (4 steps), then the cosine to min_lr over all 8 steps
    (timm, X-CLIP)."""
    top, floor = 1e-2, 1e-4
    warmup = [top * t / 4 for t in (1, 2, 3)]
    cosine = [
        floor + 0.5 * (top - floor) * (1 + math.cos(math.pi * t / 8)) for t in (4, 5, 6, 7, 8)
    ]
    assert accumulated.lrs == pytest.approx(warmup + cosine, rel=1e-9)
    assert [h["lr"] for h in accumulated.result.stats.history] == pytest.approx([cosine[0], floor])


def test_epoch_loss_is_the_mean_cross_entropy_and_the_totals_add_up() -> None:
    """At a negligible LR the model stays put, so every epoch's loss is the untrained model's mean
    cross-entropy over the 32 clips, computed here in one forward pass."""
    model, data = untrained(), ColourClips(32, seed=0)
    with torch.no_grad():
        video = apply_color(data.videos[:, 0], CLIP_COLOR[None].expand(32, 3, 9))
        expected = F.cross_entropy(model(video, CLASSES), data.labels).item()
    trained = train(epochs=2, lr=1e-12, min_lr=0.0, warmup_epochs=0, batch_per_device=2)
    assert [h["epoch"] for h in trained.result.stats.history] == [1, 2]
    assert [h["loss"] for h in trained.result.stats.history] == pytest.approx(
        [expected] * 2, rel=1e-5
    )
    stats = trained.result.stats
    assert (stats.clips, stats.skipped, stats.epoch_loss, stats.epoch_steps) == (64, 0, 0.0, 0)
    assert (
        0.6 * trained.seconds < stats.train_seconds <= trained.seconds
    )  # both epochs, not the last one
    assert dataclasses.astuple(trained.result.position) == (2, 0, 8)


def test_training_reads_a_fresh_permutation_each_epoch_and_skips_broken_videos() -> None:
    """36 clips one per micro-batch, 8 per step: 5 steps an epoch, the last one of 4 micro-batches;
    the broken clip's micro-batch is empty (the trainer's zero-weight stand-in runs instead)."""
    data = ColourClips(36, seed=0, broken=5)
    result = trainer_for(
        untrained(), data, epochs=2, lr=1e-3, warmup_epochs=0, batch_per_device=1
    ).fit()
    orders = [[i for e, i in data.served if e == epoch] for epoch in (0, 1)]
    assert len(data.served) == 72 and all(sorted(order) == list(range(36)) for order in orders)
    assert orders[0] != orders[1] and orders[0] != list(range(36))
    assert (result.steps_per_epoch, result.position.global_step) == (5, 10)
    assert result.stats.skipped == 2 and result.stats.clips == 70  # the broken clip, once per epoch


def test_training_loader_settings_and_resume_position() -> None:
    trainer = trainer_for(
        untrained(), ColourClips(32, seed=0), workers=2, epochs=2, lr=1e-3, batch_per_device=2
    )
    loader = trainer._loader(epoch=1, start_step=3)
    assert (loader.batch_size, loader.num_workers, loader.drop_last, loader.pin_memory) == (
        2,
        2,
        True,
        False,
    )
    assert loader.collate_fn is collate_clips and loader.sampler is trainer.sampler
    assert (
        len(loader.sampler) == 32 - 3 * 4 * 2
    )  # 3 optimiser steps of 4 micro-batches of 2 are done


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

    resumed_model, resumed_path = untrained(), tmp_path / "resumed.pt"
    shutil.copy(tmp_path / "step3.pt", resumed_path)
    resumed = trainer_for(resumed_model, ColourClips(32, seed=0), resumed_path, **settings).fit()
    assert resumed.position == whole.position and resumed.stats.clips == whole.stats.clips == 64
    assert resumed.stats.history == whole.stats.history
    for name, value in trainable(model).items():
        assert torch.equal(trainable(resumed_model)[name], value), name
