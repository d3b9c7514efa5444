"""The training loop on an easy in-memory task: it learns, accumulation is the same batch in
several passes, and every optimiser step uses its scheduled learning rate."""

from __future__ import annotations

import dataclasses
import math
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
from omnibench.engine.distributed import DistContext
from omnibench.engine.evaluate import EvalSettings, evaluate
from omnibench.engine.progress import ProgressReporter
from omnibench.engine.seeding import derive_seed
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


def test_accumulation_equals_the_whole_batch_in_one_pass() -> None:
    """The same 8 clips per step as 4 x 2 or 1 x 8: equal gradients, losses and parameters.

    At a constant LR: the official schedule counts micro-batches, so 4 x 2 and 1 x 8 reach a
    step's LR from different iterations (the test below pins those LRs)."""
    constant = {"epochs": 2, "lr": 1e-2, "min_lr": 1e-2, "warmup_epochs": 0}
    accumulated, whole = train(**constant, batch_per_device=2), train(**constant)
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
    # parameters are compared as a whole: their difference against how far training moved them
    # (1.2e-3 of it at this constant LR of 1e-2 from the first step; a wrong accumulation moves
    # them apart by about as much as training moved them).
    start, ours, theirs = (
        torch.cat([p.flatten() for p in trainable(m).values()])
        for m in (untrained(), accumulated.model, whole.model)
    )
    assert (ours - theirs).norm() < 5e-3 * (theirs - start).norm()


def cosine(t: int, total: int, top: float = 1e-2, floor: float = 1e-4) -> float:
    """timm's cosine at iteration ``t`` of ``total`` (no warm-up prefix: t counts from 0)."""
    return floor + 0.5 * (top - floor) * (1 + math.cos(math.pi * t / total))


def test_each_optimiser_step_uses_the_official_loops_learning_rate(accumulated: Trained) -> None:
    """X-CLIP's / ViFi-CLIP's loop: 16 micro-batches an epoch, so a 16-iteration warm-up and a
    32-iteration cosine; the first step runs at the warm-up's start (0) and step k at the LR of
    iteration 4k - 1, the last micro-batch of the step before (the scheduler is updated after
    each optimizer.step() with ``epoch * 16 + idx``)."""
    warmup = [0.0] + [1e-2 * t / 16 for t in (3, 7, 11, 15)]
    assert accumulated.lrs == pytest.approx(warmup + [cosine(t, 32) for t in (19, 23, 27)])
    logged = accumulated.result.stats.steps  # [epoch, loss, LR] of each step: its own LR
    assert [(epoch, lr) for epoch, _, lr in logged] == list(zip([1] * 4 + [2] * 4, accumulated.lrs))
    losses = [[loss for epoch, loss, _ in logged if epoch == e] for e in (1, 2)]
    history = [h["loss"] for h in accumulated.result.stats.history]
    assert history == pytest.approx([sum(epoch) / 4 for epoch in losses])
    assert [h["lr"] for h in accumulated.result.stats.history] == pytest.approx(
        [1e-2 * 15 / 16, cosine(31, 32)]
    )


def test_an_epochs_last_micro_batches_that_fill_no_step_are_dropped() -> None:
    """20 clips in micro-batches of 2, 4 to a step: 10 micro-batches an epoch, 2 steps, the last 2
    micro-batches dropped (as the official loop, which never steps on them); the schedule still
    counts 10 per epoch (warm-up 10, cosine 30 iterations over 3 epochs)."""
    model = untrained()
    data = ColourClips(20, seed=0)
    trainer = trainer_for(model, data, epochs=3, lr=1e-2, warmup_epochs=1, batch_per_device=2)
    lrs: list[float] = []
    trainer.optimizer.register_step_pre_hook(lambda opt, *_: lrs.append(opt.param_groups[0]["lr"]))
    result = trainer.fit()
    assert (result.steps_per_epoch, result.position.global_step, result.stats.clips) == (2, 6, 48)
    assert len(data.served) == 48  # 16 of the 20 clips an epoch: the dropped ones are not read
    expected = [0.0, 3e-3, 7e-3, *(cosine(t, 30) for t in (13, 17, 23))]
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert [h["lr"] for h in result.stats.history] == pytest.approx(
        [7e-3, cosine(17, 30), cosine(27, 30)]
    )


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
    """36 clips one per micro-batch, 8 per step: 4 steps an epoch read 32 of the 36 clips (the last
    4 micro-batches fill no step); the broken clip's micro-batch is empty (the trainer's
    zero-weight stand-in runs instead) in each epoch that reads it."""
    data = ColourClips(36, seed=0, broken=5)
    result = trainer_for(
        untrained(), data, epochs=2, lr=1e-3, warmup_epochs=0, batch_per_device=1
    ).fit()
    orders = [[i for e, i in data.served if e == epoch] for epoch in (0, 1)]
    assert len(data.served) == 64 and all(len(set(order)) == 32 for order in orders)
    assert orders[0] != orders[1] and orders[0] != list(range(32))
    assert (result.steps_per_epoch, result.position.global_step) == (4, 8)
    read_broken = sum(5 in order for order in orders)
    assert read_broken >= 1  # seed 3's permutations read it (else this test checks nothing)
    assert result.stats.skipped == read_broken and result.stats.clips == 64 - read_broken
    assert result.broken == frozenset({5}) and result.resumed_seconds == 0.0  # nothing resumed


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


def test_gradient_checkpointing_is_switched_on_by_the_option_only() -> None:
    for option in (False, True):
        model = untrained()
        trainer_for(
            model, ColourClips(8, seed=0), epochs=1, lr=1e-3, grad_checkpointing=option
        ).fit()
        assert model.grad_checkpointing is option


def test_a_one_step_epoch_logs_its_step_loss_and_the_pretrained_groups_lr() -> None:
    """8 clips, batch 8: the epoch's loss is its one step's; the LR logged with the step and the
    epoch is the first (pretrained, decayed) group's, 1e-3 at iteration 0 without warm-up, not
    the new modules' 10x (X-CLIP trains both)."""
    torch.manual_seed(0)
    xclip = build_model(
        ModelSpec(name="xclip", backbone="omnibench-tiny-vit", pretrained=None), frames=FRAMES
    )
    trainer = trainer_for(
        xclip,
        ColourClips(8, seed=0),
        epochs=1,
        lr=1e-3,
        warmup_epochs=0,
        new_module_lr_mult=10,
    )
    result = trainer.fit()
    assert sorted({g["lr"] for g in trainer.optimizer.param_groups}) == pytest.approx([1e-3, 1e-2])
    [(epoch, loss, lr)] = result.stats.steps
    assert (epoch, lr) == (1, pytest.approx(1e-3)) and math.isfinite(loss)
    assert result.stats.history == [{"epoch": 1, "loss": loss, "lr": lr}]


class BrokenClips(ColourClips):
    """Every clip unreadable."""

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"index": index, "broken": "truncated file"}


def test_micro_batches_of_broken_videos_only_add_no_loss() -> None:
    """One clip per micro-batch, all broken: each micro-batch is the zero-weight stand-in, so the
    step's loss is 0 and every parameter keeps a finite value."""
    model = untrained()
    result = trainer_for(model, BrokenClips(8, seed=0), epochs=1, lr=1e-3, batch_per_device=1).fit()
    assert result.stats.skipped == 8 and result.broken == frozenset(range(8))
    assert [loss for _, loss, _ in result.stats.steps] == [0.0]
    assert all(torch.isfinite(p).all() for p in trainable(model).values())


def test_each_micro_batch_is_seeded_by_the_run_seed_epoch_index_and_rank() -> None:
    """Every micro-batch reseeds torch (mixup's draws) from (run seed 3, epoch, its index in the
    epoch, rank 0), so a resumed run replays them and no two micro-batches share a seed: batch 8
    as 2 micro-batches of 4, 2 steps an epoch, 2 epochs."""
    trainer = trainer_for(
        untrained(), ColourClips(16, seed=0), epochs=2, lr=1e-3, batch_per_device=4
    )
    seeds: list[int] = []
    mix = trainer.mixup

    def recording(video: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seeds.append(torch.initial_seed())
        return mix(video, labels)

    trainer.mixup = recording  # type: ignore[assignment]
    trainer.fit()
    assert seeds == [derive_seed(3, epoch, index, 0) for epoch in (0, 1) for index in range(4)]
    assert len(set(seeds)) == 8
