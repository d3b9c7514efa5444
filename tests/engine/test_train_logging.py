"""What the trainer logs: ``train_steps.json`` (every run) and TensorBoard events (opt-in), each
optimiser step exactly once across resumes; a clear error when tensorboard is missing."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from omnibench.config.spec import OptimSpec
from omnibench.data import collate_clips
from omnibench.engine.distributed import DistContext
from omnibench.engine.progress import ProgressReporter
from omnibench.engine.trainer import TrainConfig, Trainer, TrainResult
from omnibench.errors import OmniBenchError
from omnibench.store import tb_events
from omnibench.store.train_steps import read_train_steps
from tests.engine.test_trainer import CLASSES, FRAMES, PLAIN, SIZE, ColourClips, untrained

# 2 epochs of 4 optimiser steps (32 clips, batch 8 in micro-batches of 2); checkpoints at steps
# 3, 4 (epoch end), 6 and 8
SETTINGS = {
    "epochs": 2,
    "lr": 1e-2,
    "warmup_epochs": 1,
    "batch_per_device": 2,
    "checkpoint_every": 3,
}
EVENTS = "events.out.tfevents.omnibench"
EVERY_STEP_ONCE = {
    **{tag: list(range(1, 9)) for tag in ("train/loss", "train/lr", "train/clips_per_s")},
    "train/epoch_loss": [4, 8],  # the epochs' ends
}


def trainer(folder: Path, tensorboard: bool) -> Trainer:
    model = untrained()
    config = TrainConfig(
        run_id="test",
        seed=3,
        optim=OptimSpec(**{**PLAIN, **SETTINGS}),
        collate=collate_clips,
        clip_shape=(FRAMES, 3, SIZE, SIZE),
        checkpoint_path=folder / "checkpoint.pt",
        steps_path=folder / "train_steps.json",
        events_path=folder / EVENTS if tensorboard else None,
    )
    context = DistContext()
    progress = ProgressReporter(False, active=False)
    return Trainer(
        model,
        ColourClips(32, seed=0),
        CLASSES,
        config,
        context,
        progress,
        model.new_parameter_names(),
    )


@dataclasses.dataclass
class Fitted:
    """A finished training in ``folder`` (its step-3 checkpoint kept as ``step3.pt``)."""

    folder: Path
    result: TrainResult
    lrs: list[float]  # what the optimiser stepped with
    parameters: dict[str, torch.Tensor]


def fit_keeping_step3(folder: Path, tensorboard: bool) -> Fitted:
    run = trainer(folder, tensorboard)
    lrs: list[float] = []
    run.optimizer.register_step_pre_hook(lambda o, *_: lrs.append(o.param_groups[0]["lr"]))
    save = run._save

    def save_and_keep() -> None:
        save()
        if run.position.global_step == 3:
            shutil.copy(folder / "checkpoint.pt", folder / "step3.pt")

    run._save = save_and_keep  # type: ignore[method-assign]
    result = run.fit()
    return Fitted(folder, result, lrs, {n: p.detach() for n, p in run.model.named_parameters()})


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """Trained with TensorBoard on (shared by the tests that only read it: 8 steps take a while
    on a busy machine)."""
    return fit_keeping_step3(tmp_path_factory.mktemp("logged"), tensorboard=True)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """The same training without TensorBoard."""
    return fit_keeping_step3(tmp_path_factory.mktemp("plain"), tensorboard=False)


def steps_of(path: Path) -> dict[str, list[int]]:
    """Per tag, the steps at which the event file holds a value (in file order)."""
    out: dict[str, list[int]] = {}
    for scalar in tb_events.read_scalars(path):
        out.setdefault(scalar.tag, []).append(scalar.step)
    return out


def test_train_steps_file_holds_each_steps_scheduled_lr_and_loss(plain: Fitted) -> None:
    steps = read_train_steps(plain.folder / "train_steps.json")
    assert steps is not None and (steps.classes, steps.steps_per_epoch) == (4, 4)
    assert steps.epoch == (1, 1, 1, 1, 2, 2, 2, 2)
    assert list(steps.lr) == pytest.approx(plain.lrs, rel=1e-6)
    history = {h["epoch"]: h["loss"] for h in plain.result.stats.history}
    assert steps.epoch_means() == pytest.approx(history, rel=1e-6)  # epoch loss = its steps' mean
    assert not (plain.folder / EVENTS).exists()  # not asked for


def test_event_file_holds_every_value_once_per_step(logged: Fitted) -> None:
    assert steps_of(logged.folder / EVENTS) == EVERY_STEP_ONCE
    steps = read_train_steps(logged.folder / "train_steps.json")
    assert steps is not None
    loaded = EventAccumulator(str(logged.folder))
    loaded.Reload()
    assert [s.value for s in loaded.Scalars("train/loss")] == pytest.approx(steps.loss, rel=1e-6)
    assert [s.value for s in loaded.Scalars("train/lr")] == pytest.approx(logged.lrs, rel=1e-6)
    assert [s.value for s in loaded.Scalars("train/epoch_loss")] == pytest.approx(
        [h["loss"] for h in logged.result.stats.history], rel=1e-6
    )


def test_logging_events_does_not_change_training(logged: Fitted, plain: Fitted) -> None:
    assert logged.result.stats.history == plain.result.stats.history
    assert logged.parameters.keys() == plain.parameters.keys()
    assert all(torch.equal(logged.parameters[n], plain.parameters[n]) for n in plain.parameters)
    assert (logged.folder / "train_steps.json").read_bytes() == (
        plain.folder / "train_steps.json"
    ).read_bytes()


def test_a_resumed_run_cuts_its_event_file_back_to_the_checkpoint(
    logged: Fitted, tmp_path: Path
) -> None:
    """As after a kill at step 8, before its checkpoint: the file holds steps 1-8 (then an
    evaluation, then a torn record) while the checkpoint holds 3; the resumed run's file has 1-8
    once, the values of the run that was never stopped."""
    reference = [(s.tag, s.step, s.value) for s in tb_events.read_scalars(logged.folder / EVENTS)]
    shutil.copy(logged.folder / "step3.pt", tmp_path / "checkpoint.pt")
    shutil.copy(logged.folder / EVENTS, tmp_path / EVENTS)
    tb_events.replace_scalars(tmp_path / EVENTS, tb_events.EVAL, 8, {"synthetic/test/top1": 50.0})
    with open(tmp_path / EVENTS, "ab") as handle:
        handle.write((logged.folder / EVENTS).read_bytes()[-30:])
    resumed = trainer(tmp_path, tensorboard=True).fit()
    assert resumed.stats.history == logged.result.stats.history
    # the evaluation of the attempt before goes too: the run's own evaluation writes it anew
    assert steps_of(tmp_path / EVENTS) == EVERY_STEP_ONCE
    again = [(s.tag, s.step, s.value) for s in tb_events.read_scalars(tmp_path / EVENTS)]
    timing = "train/clips_per_s"
    assert [x for x in again if x[0] != timing] == [x for x in reference if x[0] != timing]
    assert (tmp_path / "train_steps.json").read_bytes() == (
        logged.folder / "train_steps.json"
    ).read_bytes()


def test_tensorboard_turned_on_at_a_resume_gets_the_steps_before_it(
    plain: Fitted, tmp_path: Path
) -> None:
    """The first attempt logged no events; the resumed one fills steps 1-3 from the checkpoint
    (loss, LR; throughput is not kept there)."""
    shutil.copy(plain.folder / "step3.pt", tmp_path / "checkpoint.pt")
    trainer(tmp_path, tensorboard=True).fit()
    assert steps_of(tmp_path / EVENTS) == {**EVERY_STEP_ONCE, "train/clips_per_s": [4, 5, 6, 7, 8]}


def test_rewrites_keep_steps_in_order_and_drop_a_torn_record(tmp_path: Path) -> None:
    path = tmp_path / EVENTS
    log = tb_events.EventLog(path)
    for step in (1, 2, 3):
        log.scalars(step, {"train/loss": float(step)})
    log.close()
    path.write_bytes(path.read_bytes()[:-5])  # killed mid-record
    assert steps_of(path) == {"train/loss": [1, 2]}
    tb_events.restart(
        path, 3, lambda present: [tb_events.Scalar("train/loss", 3, 3.0, 0.0)] * (len(present) < 3)
    )
    assert steps_of(path) == {"train/loss": [1, 2, 3]}
    tb_events.replace_scalars(path, tb_events.EVAL, 3, {"d/s/top1": 1.0})
    tb_events.replace_scalars(path, tb_events.EVAL, 3, {"d/s/top1": 2.0})
    assert [s.value for s in tb_events.read_scalars(path) if s.tag == "eval/d/s/top1"] == [2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


def test_tensorboard_missing_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    code, output = cli("run", "demo", "--tensorboard", "--dry-run", "--results", str(tmp_path))
    assert code == 2 and tb_events.MISSING in " ".join(output.split())
    with pytest.raises(OmniBenchError, match="pip install 'omnibench\\[tensorboard\\]'"):
        trainer(tmp_path, tensorboard=True)
    assert not list(tmp_path.iterdir())  # refused before anything was written
