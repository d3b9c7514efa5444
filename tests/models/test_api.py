"""The VideoCLIPModel contract at tiny configs: shapes, state_dict round trip, freezing, text cache,
registry and backbone errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from omnibench.config.spec import ModelSpec, SpecError
from omnibench.errors import OmniBenchError
from omnibench.models import (
    DECLARED,
    MODELS,
    VideoCLIPModel,
    build_model,
    describe_models,
    input_size,
    model_options_class,
)
from omnibench.registry import lazy_exports, load

TINY = "omnibench-tiny-vit"
FRAMES = 4
CLASSES = ["brush hair", "cartwheel", "ride_bike"]
TEXT_TOWER = (
    "clip.transformer.",
    "clip.token_embedding.",
    "clip.positional_embedding",
    "clip.ln_final.",
    "clip.text_projection",
)
TEXT_ENCODER = (
    "clip.transformer.",
    "clip.positional_embedding",
    "clip.ln_final.",
    "clip.text_projection",
)

VARIANTS = [
    ("vanilla_clip", {}),
    ("vificlip", {}),
    ("vificlip", {"tune": "image"}),
    ("vificlip", {"tune": "text"}),
    ("xclip", {}),
    ("vl_prompt", {}),
    ("vl_prompt", {"vision_tokens": 3, "text_tokens": 4, "vision_depth": 1, "text_depth": 2}),
    ("omniclip", {}),
    ("omniclip", {"use_pta": False}),
    ("omniclip", {"use_spg": False}),
    ("omniclip", {"use_pta": False, "use_spg": False}),
    ("omniclip", {"ratio": 0.125, "pooling": "max", "projector": False}),
    ("omniclip", {"prompt_source": "per_block", "text_prompts": False}),
    ("omniclip", {"combination": "attention_parallel"}),
    ("omniclip", {"combination": "cascade"}),
    ("omniclip", {"prompt_gate": True}),
    ("omniclip", {"projector_form": "residual", "head_form": "residual"}),
]


# What each model declares trainable (written from the papers and the released code, independently
# of the model code). ViFi-CLIP: the token embedding is never trained (it only builds the fixed
# input embeddings), logit_scale only with both encoders. X-CLIP: text tower and logit_scale frozen.
def _expected_trainable(name: str, options: dict, param: str) -> bool:
    if name == "vanilla_clip":
        return False
    if name == "vificlip":
        tune = options.get("tune", "both")
        text = param.startswith(TEXT_ENCODER)
        visual = param.startswith("clip.visual.")
        return (
            (param == "clip.logit_scale" and tune == "both")
            or (text and tune != "image")
            or (visual and tune != "text")
        )
    if name == "xclip":
        return not param.startswith(TEXT_TOWER) and param != "clip.logit_scale"
    if name == "vl_prompt":
        return param in ("vision_prompts", "text_prompts")
    return not param.startswith(
        "clip."
    )  # omniclip: TE, SPG + gate, PTAs and α, head, prompt generator


def _names(prefix: str, *parts: str) -> set[str]:
    return {f"{prefix}{part}" for part in parts}


def _weights_and_biases(prefix: str, *layers: str) -> set[str]:
    return {f"{prefix}{layer}.{kind}" for layer in layers for kind in ("weight", "bias")}


def _prompt_generator(prefix: str) -> set[str]:
    """X-CLIP's video-specific prompt generator with 2 layers (no q/kv biases)."""
    names = _names(prefix, "alpha", "visual_proj.weight") | _weights_and_biases(
        prefix, "norm", "visual_ln"
    )
    for layer in (f"{prefix}layers.{i}." for i in range(2)):
        names |= _names(layer, "cross_attn.q.weight", "cross_attn.kv.weight")
        names |= _weights_and_biases(layer, "cross_attn.out", "mlp.0", "mlp.2", "norm1", "norm2")
    return names


def _omniclip_new(head: tuple[str, ...] = ("attn.qkv", "attn.out")) -> set[str]:
    names = (
        {"temporal_embedding"}
        | _prompt_generator("prompt_generator.")
        | _weights_and_biases("head.", *head)
    )
    for block in ("adapters.1.", "adapters.2."):  # the tiny ViT's 2 blocks
        names |= _names(block, "alpha", "up.weight") | _weights_and_biases(block, "down", "qkv")
    return names | _weights_and_biases("spg.projector.", "0", "2")


XCLIP_NEW = (
    {
        name
        for i in range(2)
        for name in _weights_and_biases(f"messages.{i}.", "fc", "ln", "attn.qkv", "attn.out")
    }
    | {"mit.positional_embedding"}
    | _weights_and_biases("mit.blocks.0.", "ln_1", "attn.qkv", "attn.out", "ln_2", "mlp.0", "mlp.2")
    | _prompt_generator("prompts_generator.")
)
NEW_PARAMETERS = [  # trainable parameters outside CLIP, spelled out name by name
    ("omniclip", {}, _omniclip_new()),
    ("omniclip", {"prompt_gate": True}, _omniclip_new() | {"prompt_gate.gates"}),
    ("omniclip", {"head_form": "residual"}, _omniclip_new(head=("norm", "attn.qkv", "attn.out"))),
    ("omniclip", {"text_prompts": False}, _omniclip_new() - _prompt_generator("prompt_generator.")),
    (
        "omniclip",
        {"use_spg": False},
        _omniclip_new() - _weights_and_biases("spg.projector.", "0", "2"),
    ),
    ("xclip", {}, XCLIP_NEW),
    ("vl_prompt", {}, {"vision_prompts", "text_prompts"}),
    ("vificlip", {}, set()),
    ("vanilla_clip", {}, set()),
]


@pytest.mark.parametrize(("name", "options", "expected"), NEW_PARAMETERS, ids=lambda v: str(v)[:40])
def test_exact_trainable_parameter_names(name: str, options: dict, expected: set[str]) -> None:
    model = tiny(name, **options)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if not n.startswith("clip.")} == expected
    clip = {n for n in trainable if n.startswith("clip.")}
    visual = {f"clip.visual.{n}" for n, _ in model.clip.visual.named_parameters()}
    text = {
        f"clip.{n}"
        for n, _ in model.clip.named_parameters()
        if n.split(".")[0] in ("transformer", "positional_embedding", "ln_final", "text_projection")
    }
    assert clip == {"xclip": visual, "vificlip": visual | text | {"clip.logit_scale"}}.get(
        name, set()
    )


@pytest.mark.parametrize(
    ("name", "groups"), [("omniclip", 2), ("xclip", 4), ("vificlip", 1), ("vl_prompt", 1)]
)
def test_weight_decay_groups_follow_each_released_optimiser(name: str, groups: int) -> None:
    """X-CLIP's groups (decay | none) x (CLIP | new, 10x LR); OmniCLIP trains new modules only;
    ViFi-CLIP: one group."""
    from omnibench.config.spec import OptimSpec
    from omnibench.engine.optim import param_groups

    model = tiny(name)
    found = param_groups(
        model, OptimSpec(weight_decay=0.001, new_module_lr_mult=10), model.new_parameter_names()
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert len(found) == groups and {n for g in found for n in g["names"]} == trainable
    if groups == 1:
        assert found[0]["weight_decay"] == 0.001
    else:
        assert {g["weight_decay"] for g in found} == {0.0, 0.001}


def tiny(name: str, frames: int = FRAMES, **options: object) -> torch.nn.Module:
    return build_model(
        ModelSpec(name=name, backbone=TINY, pretrained=None, options=options), frames=frames
    )


def video(batch: int = 2, frames: int = FRAMES, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=lambda v: str(v))
def test_shapes_and_freezing(name: str, options: dict) -> None:
    torch.manual_seed(0)
    model = tiny(name, **options).train()
    clip = video()
    assert model.frame_features(clip).shape == (2, FRAMES, 32)
    assert model.encode_video(clip).shape == (2, 32)
    assert model.encode_text(CLASSES).shape == (3, 32)
    logits = model(clip, CLASSES)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    expected = {n for n, _ in model.named_parameters() if _expected_trainable(name, options, n)}
    assert {n for n, p in model.named_parameters() if p.requires_grad} == expected
    if not expected:
        assert not logits.requires_grad
        return
    logits.logsumexp(dim=1).sum().backward()
    assert {n for n, p in model.named_parameters() if p.grad is not None} == expected


@pytest.mark.parametrize("name", ["omniclip", "xclip", "vificlip", "vl_prompt"])
def test_state_dict_round_trip(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = tiny(name)
    with torch.no_grad():
        for param in source.parameters():
            param.add_(0.01 * torch.randn_like(param))
    source.encode_text(CLASSES)  # fill the text cache: it must not leak into the state_dict
    path = tmp_path / "model.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(1)
    target = tiny(name)
    target.load_state_dict(torch.load(path, weights_only=True))
    clip = video()
    with torch.no_grad():
        torch.testing.assert_close(target(clip, CLASSES), source(clip, CLASSES))
    assert not any("cache" in key for key in source.state_dict())


def test_frozen_text_is_computed_once_per_class_list_and_refreshed_after_loading() -> None:
    model = tiny("omniclip")
    calls: list[tuple[str, ...]] = []
    compute = model.compute_text_features
    model.compute_text_features = lambda names: calls.append(tuple(names)) or compute(names)
    first = model.encode_text(CLASSES)
    model.train()
    for _ in range(3):
        model(video(), CLASSES).sum().backward()
    assert calls == [tuple(CLASSES)]
    model.encode_text(CLASSES[:2])
    assert len(calls) == 2
    state = {
        k: v + 0.5 if k == "clip.text_projection" else v for k, v in model.state_dict().items()
    }
    model.load_state_dict(state)
    refreshed = model.encode_text(CLASSES)
    assert len(calls) == 3 and not torch.allclose(refreshed, first)


def test_trainable_text_is_recomputed_with_gradients_and_cached_without() -> None:
    model = tiny("vl_prompt")
    with torch.no_grad():
        cached = model.encode_text(CLASSES)
        assert model.encode_text(CLASSES) is cached
    assert model.encode_text(CLASSES).requires_grad
    with torch.no_grad():
        model.text_prompts.add_(0.1)
        assert not torch.allclose(model.encode_text(CLASSES), cached)


def test_vanilla_clip_is_frame_mean_of_clip() -> None:
    model = tiny("vanilla_clip")
    clip = video()
    with torch.no_grad():
        frames = model.clip.encode_image(clip.flatten(0, 1)).view(2, FRAMES, -1)
        torch.testing.assert_close(model.encode_video(clip), frames.mean(dim=1))
        text = model.clip.encode_text(
            model.tokenizer(["a photo of a brush hair.", "a photo of a cartwheel."])
        )
        torch.testing.assert_close(model.encode_text(CLASSES[:2]), text)


def test_registry_lists_every_model_with_a_description() -> None:
    names = [name for name, _ in describe_models()]
    assert names == sorted(["omniclip", "xclip", "vificlip", "vl_prompt", "vanilla_clip"])
    assert all(description and "\n" not in description for _, description in describe_models())
    assert model_options_class("vificlip")().tune == "both"


def test_unknown_model_and_option_get_did_you_mean() -> None:
    with pytest.raises(OmniBenchError, match="did you mean 'omniclip'"):
        tiny("omniclp")
    with pytest.raises(SpecError, match="did you mean 'ratio'"):
        tiny("omniclip", ratoi=0.5)
    with pytest.raises(SpecError, match="tune: 'video' is not one of"):
        tiny("vificlip", tune="video")


def test_backbone_errors_are_one_line() -> None:
    with pytest.raises(
        OmniBenchError, match="unknown backbone 'ViT-B-61'.*did you mean 'ViT-B-16'"
    ):
        build_model(ModelSpec(name="vanilla_clip", backbone="ViT-B-61", pretrained=None), frames=1)
    with pytest.raises(
        OmniBenchError, match="neither a file nor a known open_clip tag.*did you mean 'openai'"
    ):
        build_model(
            ModelSpec(name="vanilla_clip", backbone="ViT-B-32", pretrained="openaj"), frames=1
        )


def test_missing_weights_offline_name_model_tag_and_local_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(OmniBenchError) as info:
        build_model(
            ModelSpec(name="vanilla_clip", backbone="ViT-B-32", pretrained="openai"), frames=1
        )
    message = str(info.value)
    assert "\n" not in message
    assert "'ViT-B-32'" in message and "'openai'" in message and "local checkpoint file" in message


def test_local_checkpoint_file_and_image_size(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = tiny("vanilla_clip")
    path = tmp_path / "tiny.pt"
    torch.save(source.clip.state_dict(), path)
    spec = ModelSpec(
        name="vanilla_clip", backbone=TINY, pretrained=str(path), options={"activation": "gelu"}
    )
    loaded = build_model(spec, frames=FRAMES)
    torch.testing.assert_close(loaded.clip.visual.proj, source.clip.visual.proj)
    bigger = build_model(
        ModelSpec(name="omniclip", backbone=TINY, pretrained=None), frames=FRAMES, image_size=48
    )
    assert input_size(bigger) == 48 and bigger(video(size=48), CLASSES).shape == (2, 3)
    with pytest.raises(OmniBenchError, match="frames are 32x32 but omniclip.*expects 48x48"):
        bigger(video(size=32), CLASSES)
    with pytest.raises(OmniBenchError, match="built for 4 frames"):
        bigger(video(frames=3, size=48), CLASSES)


def test_grad_checkpointing_gives_the_same_gradients() -> None:
    for name in ("omniclip", "xclip", "vl_prompt"):
        torch.manual_seed(0)
        model = tiny(name).train()
        clip = video()
        model(clip, CLASSES).sum().backward()
        plain = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model.zero_grad()
        model.set_grad_checkpointing(True)
        model(clip, CLASSES).sum().backward()
        for key, grad in plain.items():
            torch.testing.assert_close(
                dict(model.named_parameters())[key].grad, grad, msg=f"{name}: {key}"
            )


def test_every_registered_model_is_covered() -> None:
    assert {name for name, _ in VARIANTS} == set(MODELS.names())


def test_the_registry_is_built_from_the_catalogue_entries() -> None:
    """A model's name is written once, in its declaration: the registry holds exactly the declared
    models, each with the class its entry names, options and description."""
    assert MODELS.names() == DECLARED.names()
    for name in DECLARED.names():
        declared, entry = DECLARED.get(name), MODELS.get(name)
        module, _, cls = declared.implementation.partition(":")
        assert (entry.cls.__module__, entry.cls.__name__) == (module, cls)
        assert issubclass(entry.cls, VideoCLIPModel) and entry.cls.registry_name == name
        assert (entry.options, entry.description) == (declared.options, declared.description)
    assert tiny("xclip").registry_name == "xclip"


def test_lazy_exports_load_on_first_use_and_refuse_unknown_names() -> None:
    exports = lazy_exports("omnibench.models", {"VideoCLIPModel": "base"})
    assert exports("VideoCLIPModel") is VideoCLIPModel
    with pytest.raises(AttributeError, match="'omnibench.models' has no attribute 'build'"):
        exports("build")
    assert load("omnibench.models.xclip:XCLIP") is MODELS.get("xclip").cls
    assert load("omnibench.models.xclip").__name__ == "omnibench.models.xclip"
