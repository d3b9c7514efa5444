"""The papers' defaults: each model's own per protocol, merged beneath a suite's values, valid
specs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omnibench.config.spec import RunSpec, SpecError
from omnibench.models import DECLARED
from omnibench.protocols import PROTOCOLS, validate_protocol_options
from omnibench.suite.defaults import (
    MissingDefaultsError,
    apply_defaults,
    flat_defaults,
    protocol_defaults,
)
from omnibench.suite.load import SuiteError, load_suite

# model, protocol -> (batch, per device, LR, min LR, epochs, weight decay, new-module LR x, frames,
# normalisation), written from the papers and ../shared/reference/CONFIG_NOTES.md. min LR None:
# LR / 100.
OPTIM_AND_DATA = {
    ("omniclip", "few_shot"): (64, 4, 2e-3, 2e-5, 50, 0.003, 1.0, 32, "clip"),  # X-CLIP 4 x 2 x 8
    ("omniclip", "zero_shot"): (256, 4, 2e-3, 2e-5, 10, 0.003, 1.0, 32, "clip"),
    ("omniclip", "base_to_novel"): (64, 4, 2e-3, 2e-5, 11, 0.003, 1.0, 32, "clip"),
    ("xclip", "supervised"): (256, 8, 8e-6, None, 30, 0.001, 10.0, 8, "imagenet"),
    ("xclip", "few_shot"): (64, 4, 2e-6, None, 50, 0.001, 10.0, 32, "imagenet"),
    ("xclip", "zero_shot"): (256, 4, 8e-6, None, 10, 0.001, 10.0, 32, "imagenet"),
    ("vificlip", "supervised"): (512, 4, 2.2e-5, None, 30, 0.001, 1.0, 16, "imagenet"),
    ("vificlip", "few_shot"): (64, 4, 2e-6, None, 50, 0.001, 1.0, 32, "imagenet"),
    ("vificlip", "zero_shot"): (256, 4, 8e-6, None, 10, 0.001, 1.0, 32, "imagenet"),
    ("vificlip", "base_to_novel"): (64, 4, 2e-6, None, 11, 0.001, 1.0, 32, "imagenet"),
    ("vl_prompt", "few_shot"): (64, 4, 8e-3, None, 50, 0.001, 1.0, 32, "imagenet"),
    ("vl_prompt", "base_to_novel"): (64, 4, 4e-2, None, 11, 0.001, 1.0, 32, "imagenet"),
}
# What each model declares (any other protocol is an error, never another model's settings).
DECLARED_PROTOCOLS = {
    "omniclip": {"supervised", "few_shot", "zero_shot", "base_to_novel", "eval_only"},
    "xclip": {"supervised", "few_shot", "zero_shot", "base_to_novel", "eval_only"},
    "vificlip": {"supervised", "few_shot", "zero_shot", "base_to_novel", "eval_only"},
    "vl_prompt": {"few_shot", "base_to_novel", "eval_only"},
    "vanilla_clip": {"eval_only"},
}


@pytest.mark.parametrize(("model", "protocol"), list(OPTIM_AND_DATA), ids=str)
def test_default_optimiser_and_data_of_each_model_and_protocol(model: str, protocol: str) -> None:
    spec = RunSpec.from_dict(
        apply_defaults({"protocol": protocol, "dataset": "hmdb51", "model": {"name": model}})
    )
    optim, data = spec.optim, spec.data
    assert (
        optim.batch_size,
        optim.batch_per_device,
        optim.lr,
        optim.min_lr,
        optim.epochs,
        optim.weight_decay,
        optim.new_module_lr_mult,
        data.frames,
        data.normalization,
    ) == OPTIM_AND_DATA[(model, protocol)]
    assert (
        optim.warmup_epochs == 5.0
        and optim.label_smoothing == 0.1
        and (optim.mixup, optim.cutmix) == (0.8, 1.0)
    )
    views = (4, 3) if protocol == "supervised" else (1, 1)
    assert (data.test_clips, data.test_crops) == views


def test_vl_prompting_options_per_protocol() -> None:
    few = apply_defaults(
        {"protocol": "few_shot", "dataset": "hmdb51", "model": {"name": "vl_prompt"}}
    )
    novel = apply_defaults(
        {"protocol": "base_to_novel", "dataset": "hmdb51", "model": {"name": "vl_prompt"}}
    )
    assert few["model"]["options"] == {
        "vision_tokens": 10,
        "text_tokens": 10,
        "vision_depth": 12,
        "text_depth": 12,
    }
    assert novel["model"]["options"] == {
        "vision_tokens": 16,
        "text_tokens": 16,
        "vision_depth": 9,
        "text_depth": 9,
    }


def test_vificlip_single_encoder_variants_take_their_own_supervised_recipe() -> None:
    for tune, batch, lr in (("both", 512, 2.2e-5), ("image", 256, 8e-6), ("text", 256, 8e-6)):
        data = apply_defaults(
            {
                "protocol": "supervised",
                "dataset": "k400",
                "model": {"name": "vificlip", "options": {"tune": tune}},
            }
        )
        assert (data["optim"]["batch_size"], data["optim"]["lr"]) == (batch, lr)


def test_omniclip_ssv2_uses_a_fixed_classifier() -> None:
    """§4.1: SSv2 is trained "with a fixed classifier": no video-specific text prompts."""
    for protocol in ("supervised", "few_shot"):
        ssv2 = apply_defaults(
            {"protocol": protocol, "dataset": "ssv2", "model": {"name": "omniclip"}}
        )
        assert ssv2["model"]["options"] == {"text_prompts": False}
        assert "model" not in apply_defaults({"protocol": protocol, "dataset": "k400"})


@pytest.mark.parametrize("model", sorted(DECLARED_PROTOCOLS))
def test_every_model_declares_its_protocols_and_nothing_else(model: str) -> None:
    assert set(DECLARED.get(model).protocols) == DECLARED_PROTOCOLS[model]
    for protocol in sorted(set(PROTOCOLS.names()) - DECLARED_PROTOCOLS[model]):
        with pytest.raises(
            MissingDefaultsError,
            match=f"model '{model}' declares no defaults for protocol '{protocol}'",
        ):
            protocol_defaults(protocol, "hmdb51", model)


def test_a_suite_asking_for_undeclared_defaults_fails_at_load_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "prompting.yaml"
    path.write_text(
        "name: prompting\ndescription: d\ntable: {paper_table: null, title: t, layout: grid, "
        "rows: [model.name], columns: [dataset], metrics: [top1]}\n"
        "base: {protocol: supervised, dataset: hmdb51}\n"
        "grid:\n  model.name: [omniclip, vl_prompt]\n"
    )
    with pytest.raises(
        SuiteError,
        match=r"prompting.yaml:6: model 'vl_prompt' declares no defaults for protocol 'supervised'",
    ):
        load_suite(path)


@pytest.mark.parametrize(
    ("dataset", "batch", "lr", "min_lr", "epochs", "wd"),
    [
        ("k400", 256, 2e-3, 2e-5, 50, 0.003),
        ("ssv2", 256, 3.5e-3, 3.5e-5, 50, 0.01),
        ("hmdb51", 32, 2e-3, 2e-5, 30, 0.003),
        ("ucf101", 32, 2e-3, 2e-5, 30, 0.003),
    ],
)
def test_supervised_defaults_are_omniclip_table_1(dataset, batch, lr, min_lr, epochs, wd) -> None:
    spec = RunSpec.from_dict(apply_defaults({"protocol": "supervised", "dataset": dataset}))
    assert (spec.optim.batch_size, spec.optim.lr, spec.optim.min_lr, spec.optim.epochs) == (
        batch,
        lr,
        min_lr,
        epochs,
    )
    assert (spec.optim.weight_decay, spec.optim.warmup_epochs) == (wd, 5.0)
    assert (spec.data.frames, spec.data.test_clips, spec.data.test_crops) == (8, 4, 3)


def test_few_shot_and_zero_shot_defaults() -> None:
    few = RunSpec.from_dict(apply_defaults({"protocol": "few_shot", "dataset": "hmdb51"}))
    # "a batch size of 8" as X-CLIP's few-shot config has it: 8 per GPU (4 x 2), 64 on 8 GPUs
    assert (few.data.frames, few.optim.batch_size, few.data.test_clips, few.data.test_crops) == (
        32,
        64,
        1,
        1,
    )
    zero = RunSpec.from_dict(apply_defaults({"protocol": "zero_shot", "dataset": "k400"}))
    assert (zero.data.frames, zero.optim.epochs) == (32, 10)
    xclip = RunSpec.from_dict(
        apply_defaults({"protocol": "few_shot", "dataset": "ucf101", "model": {"name": "xclip"}})
    )
    assert (
        xclip.optim.lr,
        xclip.optim.batch_size,
        xclip.optim.epochs,
        xclip.optim.new_module_lr_mult,
    ) == (2e-6, 64, 50, 10)
    assert xclip.data.normalization == "imagenet"
    assert protocol_defaults("eval_only", "hmdb51")["optim"]["epochs"] == 0


def test_suite_values_win_over_defaults() -> None:
    data = apply_defaults(
        {
            "protocol": "supervised",
            "dataset": "hmdb51",
            "optim": {"lr": 1e-4},
            "data": {"frames": 16},
        }
    )
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
    zero = validate_protocol_options(
        RunSpec(
            protocol="zero_shot",
            dataset="k400",
            protocol_options={"targets": ["hmdb51"], "half_classes": True},
        )
    )
    assert zero.targets == ("hmdb51",) and zero.half_classes and zero.subset_classes == 160


def test_declarations_defaults_and_suites_load_without_torch() -> None:
    """Model declarations are torch-free: suites expand with every model's defaults, no torch
    import."""
    code = (
        "import sys; from omnibench.suite.load import "
        "load_suite; from omnibench.models import describe_models; "
        "assert len(load_suite('supervised').specs) == 13 and len(describe_models()) == 5; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
