"""The papers' defaults: merged beneath a suite's values, valid specs, documented sources."""
from __future__ import annotations

import pytest

from omnibench.protocols import PROTOCOLS, validate_protocol_options
from omnibench.protocols.defaults import apply_defaults, flat_defaults, protocol_defaults
from omnibench.spec import RunSpec, SpecError


@pytest.mark.parametrize(("dataset", "batch", "lr", "min_lr", "epochs", "wd"), [
    ("k400", 256, 2e-3, 2e-5, 50, 0.003),
    ("ssv2", 256, 3.5e-3, 3.5e-5, 50, 0.01),
    ("hmdb51", 32, 2e-3, 2e-5, 30, 0.003),
    ("ucf101", 32, 2e-3, 2e-5, 30, 0.003),
])
def test_supervised_defaults_are_omniclip_table_1(dataset, batch, lr, min_lr, epochs, wd) -> None:
    spec = RunSpec.from_dict(apply_defaults({"protocol": "supervised", "dataset": dataset}))
    assert (spec.optim.batch_size, spec.optim.lr, spec.optim.min_lr, spec.optim.epochs) == (batch, lr, min_lr, epochs)
    assert (spec.optim.weight_decay, spec.optim.warmup_epochs) == (wd, 5.0)
    assert (spec.data.frames, spec.data.test_clips, spec.data.test_crops) == (8, 4, 3)


def test_few_shot_and_zero_shot_defaults() -> None:
    few = RunSpec.from_dict(apply_defaults({"protocol": "few_shot", "dataset": "hmdb51"}))
    assert (few.data.frames, few.optim.batch_size, few.data.test_clips, few.data.test_crops) == (32, 8, 1, 1)
    zero = RunSpec.from_dict(apply_defaults({"protocol": "zero_shot", "dataset": "k400"}))
    assert (zero.data.frames, zero.optim.epochs) == (32, 10)
    xclip = RunSpec.from_dict(apply_defaults({"protocol": "few_shot", "dataset": "ucf101", "model": {"name": "xclip"}}))
    assert (xclip.optim.lr, xclip.optim.batch_size, xclip.optim.epochs, xclip.optim.new_module_lr_mult) == (2e-6, 64, 50, 10)
    assert xclip.data.normalization == "imagenet"
    assert protocol_defaults("eval_only", "hmdb51")["optim"]["epochs"] == 0


def test_suite_values_win_over_defaults() -> None:
    data = apply_defaults({"protocol": "supervised", "dataset": "hmdb51", "optim": {"lr": 1e-4},
                           "data": {"frames": 16}})
    spec = RunSpec.from_dict(data)
    assert (spec.optim.lr, spec.data.frames, spec.optim.batch_size) == (1e-4, 16, 32)
    assert flat_defaults("supervised", "hmdb51")["optim.batch_size"] == 32


def test_protocol_options_are_validated() -> None:
    assert set(PROTOCOLS) == {"supervised", "few_shot", "zero_shot", "base_to_novel", "eval_only"}
    spec = RunSpec(protocol="few_shot", dataset="hmdb51", protocol_options={"shots": 4})
    assert validate_protocol_options(spec).shots == 4
    with pytest.raises(SpecError, match="unknown key 'shot' \\(did you mean 'shots'\\?\\)"):
        validate_protocol_options(spec.replace(protocol_options={"shot": 4}))
    with pytest.raises(SpecError, match="shots: must be >= 1"):
        validate_protocol_options(spec.replace(protocol_options={"shots": 0}))
    zero = validate_protocol_options(RunSpec(protocol="zero_shot", dataset="k400",
                                             protocol_options={"targets": ["hmdb51"], "half_classes": True}))
    assert zero.targets == ("hmdb51",) and zero.half_classes and zero.subset_classes == 160
