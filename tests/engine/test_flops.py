"""FLOPs: hand-computed golden values at tiny configs, the published B/16 anchors, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from omnibench.cli import main
from omnibench.config.spec import ModelSpec
from omnibench.engine.cost import measure_cost
from omnibench.engine.flops import count_flops, record_cost, text_gflops, video_gflops
from omnibench.models import MODELS, build_model
from omnibench.models.backbone import load_clip

# image 32, patch 8 (K = 16), width 64, 2 heads, 2 layers; embed 32; text: width 32, 2 heads,
# 2 layers
TINY = "omnibench-tiny-vit"


def ln(tokens: int, width: int) -> int:
    return 5 * tokens * width  # fvcore: 5 flops per element of an affine norm


def attention(tokens: int, width: int, keys: int | None = None) -> int:
    keys = tokens if keys is None else keys
    return tokens * keys * 2 * width  # QKᵀ and AV, summed over heads


def clip_block(tokens: int, width: int) -> int:
    qkv, out, mlp = (
        tokens * width * 3 * width,
        tokens * width * width,
        2 * tokens * width * 4 * width,
    )
    return 2 * ln(tokens, width) + qkv + attention(tokens, width) + out + mlp


def tiny(name: str, frames: int, **options: object) -> torch.nn.Module:
    return build_model(
        ModelSpec(name=name, backbone=TINY, pretrained=None, options=options), frames=frames
    )


def test_attention_handle_counts_sdpa() -> None:
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    module = torch.nn.Identity()
    assert count_flops(module, F.scaled_dot_product_attention, (q, k, v)) == 2 * 3 * 5 * 7 * (8 + 4)


def test_tiny_vanilla_video_and_text_by_hand() -> None:
    frames, tokens, width = 4, 17, 64
    conv = 16 * width * 3 * 8 * 8
    # open_clip applies ln_post to every token before taking the class token
    frame = (
        conv + ln(tokens, width) + 2 * clip_block(tokens, width) + ln(tokens, width) + width * 32
    )
    model = tiny("vanilla_clip", frames)
    assert video_gflops(model, torch.zeros(1, frames, 3, 32, 32)) * 1e9 == pytest.approx(
        frames * frame, abs=1
    )
    text = 2 * clip_block(77, 32) + ln(77, 32) + 32 * 32
    assert text_gflops(model, ["x"]) * 1e9 == pytest.approx(text, abs=1)
    assert text_gflops(model, ["x", "y", "z"]) * 1e9 == pytest.approx(3 * text, abs=1)


@pytest.mark.parametrize("form", ["literal", "residual"])
def test_tiny_omniclip_video_by_hand(form: str) -> None:
    frames, width, embed, hidden = 4, 64, 32, 16
    tokens = 17 + 4  # class + 16 patches + 4 SPG prompts (2x2 pooling of the 4x4 grid)
    conv = 16 * width * 3 * 8 * 8
    hidden_spg = width if form == "literal" else 4 * width  # Eq. 6's D-wide MLP, or CLIP's 4D
    spg = 2 * 4 * width * hidden_spg  # projector MLP on the 4 pooled tokens
    pta = (
        tokens * (width * hidden + hidden * 3 * hidden + hidden * width)
        + tokens * frames * 2 * hidden
    )
    per_frame = (
        conv
        + ln(17, width)
        + spg
        + 2 * (clip_block(tokens, width) + pta)
        + ln(1, width)
        + width * embed
    )
    head = (
        (ln(frames, embed) if form == "residual" else 0)  # Eq. 5 as written has no norm
        + frames * embed * 3 * embed
        + attention(frames, embed)
        + frames * embed * embed
    )
    model = tiny("omniclip", frames, projector_form=form, head_form=form)
    measured = video_gflops(model, torch.zeros(1, frames, 3, 32, 32)) * 1e9
    assert measured == pytest.approx(frames * per_frame + head, abs=1)
    without = tiny("omniclip", frames, use_spg=False, use_pta=False, head_form=form)
    plain = conv + ln(17, width) + 2 * clip_block(17, width) + ln(1, width) + width * embed
    assert video_gflops(without, torch.zeros(1, frames, 3, 32, 32)) * 1e9 == pytest.approx(
        frames * plain + head, abs=1
    )


def test_cost_counts_parameters_and_scopes() -> None:
    model = tiny("xclip", 4)
    cost = measure_cost(model, frames=4, size=32, classes=10)
    assert cost.params_total == sum(p.numel() for p in model.parameters())
    assert (
        cost.params_trainable
        == sum(p.numel() for p in model.parameters() if p.requires_grad)
        < cost.params_total
    )
    assert cost.gflops_text_classes == pytest.approx(10 * cost.gflops_text_one)
    assert (
        cost.gflops_view_one_text > cost.gflops_video + cost.gflops_text_one
    )  # + video-specific prompting
    assert set(cost.to_dict()["scope"]) >= {
        "gflops_video",
        "gflops_text_one",
        "params_total",
        "params_trainable",
    }


def test_flops_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["flops", "omniclip", "--backbone", TINY, "--frames", "4", "-o", "ratio=0.5", "--json"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {"gflops_video", "gflops_text_one", "params_total", "params_trainable"} <= set(data)
    assert data["options"] == {"ratio": 0.5} and data["frames"] == 4 and data["size"] == 32
    parts = data["breakdown"]["parts"]
    assert sum(p["gflops"] for p in parts) == pytest.approx(data["gflops_view_one_text"])
    assert sum(p["gflops_no_attention"] for p in parts if p["side"] == "video") == pytest.approx(
        data["gflops_video_no_attention"]
    )
    assert set(data["breakdown"]["conventions"]) == {"gflops", "gflops_no_attention"}
    assert main(["flops", "omniclip", "--backbone", TINY, "-o", "ratoi=0.5"]) == 2
    assert "did you mean 'ratio'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def b16() -> tuple:
    torch.manual_seed(0)
    return load_clip("ViT-B-16", None)


def _b16_model(b16: tuple, name: str, frames: int) -> torch.nn.Module:
    entry = MODELS.get(name)
    return entry.cls(b16[0], b16[1], frames, entry.options()).eval()


@pytest.mark.slow
def test_published_anchors_b16(b16: tuple) -> None:
    """Within 2% of the papers: CLIP B/16 frame 17.58, ViFi-CLIP 16 frames ≈ 281, X-CLIP 8 frames
    ≈ 145."""
    vanilla = video_gflops(_b16_model(b16, "vanilla_clip", 1), torch.zeros(1, 1, 3, 224, 224))
    assert vanilla == pytest.approx(17.58, rel=0.02)
    vifi = video_gflops(_b16_model(b16, "vificlip", 16), torch.zeros(1, 16, 3, 224, 224))
    assert vifi == pytest.approx(281, rel=0.02)
    xclip = measure_cost(_b16_model(b16, "xclip", 8), frames=8, size=224, classes=1)
    assert xclip.gflops_view_one_text == pytest.approx(145, rel=0.02)  # video + one text prompt


@pytest.mark.slow
def test_omniclip_b16_cost_beside_the_paper(b16: tuple) -> None:
    """With attention, OmniCLIP costs more than 8 plain frames; with attention modules skipped
    (thop's convention) it lands near the paper's 130 (K400, video + one prompt) and 128 (SSv2,
    video)."""
    cost = measure_cost(_b16_model(b16, "omniclip", 8), frames=8, size=224, classes=1)
    print(
        f"OmniCLIP ViT-B/16, 8 frames: {cost.gflops_video:.1f} "
        f"GFLOPs, {cost.gflops_video_no_attention:.1f} "
        "with attention skipped; paper: 130 (Table 2), 128 (Table 3)"
    )
    assert cost.gflops_video > 8 * 17.58  # SPG adds K/4 = 49 tokens to every frame's 197
    assert cost.gflops_video_no_attention == pytest.approx(128, rel=0.05)
    assert cost.gflops_view_one_text_no_attention == pytest.approx(130, rel=0.05)
    parts = {p.component: p for p in cost.breakdown.parts}
    assert parts["clip_frames"].gflops == pytest.approx(8 * 17.58, rel=0.01)
    # 49 prompt tokens through 12 blocks' MLP and two norms, per frame (the attention-skipped part)
    by_hand = 8 * 12 * 49 * (2 * 768 * 4 * 768 + 2 * ln(1, 768)) / 1e9
    assert parts["extra_tokens"].gflops_no_attention == pytest.approx(by_hand, rel=0.005)


def test_record_cost_block_matches_the_record_schema() -> None:
    model = tiny("omniclip", 4).train()
    cost = record_cost(model, frames=4, size=32)
    assert set(cost) == {
        "gflops_video",
        "gflops_text_one",
        "params_total",
        "params_trainable",
        "scope",
    }
    assert cost["gflops_video"] == pytest.approx(video_gflops(model, torch.zeros(1, 4, 3, 32, 32)))
    assert isinstance(cost["scope"], str) and model.training  # the mode is restored


def prompt_generator(
    patches: int, frames: int, width: int, embed: int, layers: int = 2, classes: int = 1
) -> dict:
    """X-CLIP's video-specific prompts (one head at E = 32): context LN + projection + norm, then
    per layer: norms, q, k/v over the K context tokens, attention, output projection and MLP."""
    context = ln(patches * frames, width) + patches * width * embed + ln(patches, embed)
    norms_mlp = 2 * ln(classes, embed) + 2 * classes * embed * 4 * embed
    projections = classes * embed * embed + patches * embed * 2 * embed + classes * embed * embed
    matmuls = attention(classes, embed, keys=patches)
    return {
        "gflops": context + layers * (norms_mlp + projections + matmuls),
        "attention_matmuls": layers * matmuls,
        "gflops_no_attention": context + layers * norms_mlp,
    }


def test_omniclip_breakdown_by_hand_and_sums_to_the_totals() -> None:
    frames, width, embed, hidden, patches, prompts = 4, 64, 32, 16, 16, 4
    cost = measure_cost(tiny("omniclip", frames), frames=frames, size=32, classes=1)
    parts = {p.component: p for p in cost.breakdown.parts}
    assert list(parts) == [
        "clip_frames",
        "extra_tokens",
        "adapters",
        "spg",
        "head",
        "prompt_generator",
        "text_tower",
        "logits",
    ]
    plain, grown = 1 + patches, 1 + patches + prompts

    def mlp_ln(tokens: int) -> int:
        return 2 * ln(tokens, width) + 2 * tokens * width * 4 * width

    conv = patches * width * 3 * 8 * 8
    expected = {
        "clip_frames": (
            frames * (conv + 2 * ln(plain, width) + 2 * clip_block(plain, width) + width * embed),
            frames * 2 * attention(plain, width),
            frames * (conv + 2 * ln(plain, width) + 2 * mlp_ln(plain)),
        ),
        # prompts in both blocks; ln_post on the class token only (not on all 17 tokens as
        # open_clip's tower)
        "extra_tokens": (
            frames
            * (
                2 * (clip_block(grown, width) - clip_block(plain, width))
                + ln(1, width)
                - ln(plain, width)
            ),
            frames * 2 * (attention(grown, width) - attention(plain, width)),
            frames * (2 * (mlp_ln(grown) - mlp_ln(plain)) + ln(1, width) - ln(plain, width)),
        ),
        "adapters": (
            frames
            * 2
            * grown
            * (width * hidden + hidden * 3 * hidden + hidden * width + frames * 2 * hidden),
            frames * 2 * grown * frames * 2 * hidden,
            frames * 2 * grown * (width * hidden + hidden * 3 * hidden + hidden * width),
        ),
        "spg": (  # the literal projector (the default): two D-wide layers
            frames * 2 * prompts * width * width,
            0,
            frames * 2 * prompts * width * width,
        ),
        "head": (  # the literal head (the default): no norm
            frames * embed * 4 * embed + attention(frames, embed),
            attention(frames, embed),
            0,
        ),
        "prompt_generator": tuple(prompt_generator(patches, frames, width, embed).values()),
        "text_tower": (
            2 * clip_block(77, 32) + ln(77, 32) + 32 * 32,
            2 * attention(77, 32),
            2 * (2 * ln(77, 32) + 2 * 77 * 32 * 4 * 32) + ln(77, 32),
        ),
        "logits": (embed, 0, 0),  # one view × one class × E
    }
    for name, (flops, matmuls, no_attention) in expected.items():
        part = parts[name]
        got = (part.gflops * 1e9, part.attention_matmuls * 1e9, part.gflops_no_attention * 1e9)
        assert got == pytest.approx((flops, matmuls, no_attention), abs=1), name
    assert cost.breakdown.total(side="video") == pytest.approx(cost.gflops_video, abs=1e-12)
    assert cost.breakdown.total() == pytest.approx(cost.gflops_view_one_text, abs=1e-12)
    clip = torch.zeros(1, frames, 3, 32, 32)
    assert cost.gflops_video * 1e9 == pytest.approx(
        video_gflops(tiny("omniclip", frames), clip) * 1e9, abs=1
    )
    assert cost.gflops_video_no_attention == pytest.approx(
        cost.breakdown.total("gflops_no_attention", side="video")
    )
    assert [p.side for p in cost.breakdown.parts].count("text") == 3


def test_xclip_breakdown_names_its_modules_and_sums() -> None:
    cost = measure_cost(tiny("xclip", 4), frames=4, size=32, classes=1)
    parts = {p.component: p for p in cost.breakdown.parts}
    assert set(parts) == {
        "clip_frames",
        "extra_tokens",
        "messages",
        "mit",
        "prompts_generator",
        "text_tower",
        "logits",
    }
    assert (
        parts["messages"].label.startswith("cross-frame communication")
        and parts["mit"].side == "video"
    )
    # one message token per frame joins each block's attention (its q/k/v, output projection;
    # 17 -> 18 keys), then leaves before the MLP
    extra = 4 * 2 * (
        ln(18, 64) - ln(17, 64) + 64 * 4 * 64 + attention(18, 64) - attention(17, 64)
    ) + 4 * (ln(1, 64) - ln(17, 64))
    assert parts["extra_tokens"].gflops * 1e9 == pytest.approx(extra, abs=1)
    assert parts["prompts_generator"].gflops * 1e9 == pytest.approx(
        prompt_generator(16, 4, 64, 32)["gflops"], abs=1
    )
    assert cost.breakdown.total() == pytest.approx(cost.gflops_view_one_text, abs=1e-12)
    assert cost.gflops_view_one_text_no_attention < cost.gflops_view_one_text


def test_vificlip_is_plain_clip_frames_and_text() -> None:
    cost = measure_cost(tiny("vificlip", 4), frames=4, size=32, classes=1)
    assert [p.component for p in cost.breakdown.parts] == ["clip_frames", "text_tower", "logits"]
