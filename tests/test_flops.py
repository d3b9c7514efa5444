"""FLOPs: hand-computed golden values at tiny configs, the published B/16 anchors, the CLI."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from omnibench.cli import main
from omnibench.flops import count_flops, measure_cost, record_cost, text_gflops, video_gflops
from omnibench.models import MODELS, build_model
from omnibench.models.backbone import load_clip
from omnibench.spec import ModelSpec

# image 32, patch 8 (K = 16), width 64, 2 heads, 2 layers; embed 32; text: width 32, 2 heads, 2 layers
TINY = "omnibench-tiny-vit"


def ln(tokens: int, width: int) -> int:
    return 5 * tokens * width  # fvcore: 5 flops per element of an affine norm


def attention(tokens: int, width: int, keys: int | None = None) -> int:
    keys = tokens if keys is None else keys
    return tokens * keys * 2 * width  # QKᵀ and AV, summed over heads


def clip_block(tokens: int, width: int) -> int:
    qkv, out, mlp = tokens * width * 3 * width, tokens * width * width, 2 * tokens * width * 4 * width
    return 2 * ln(tokens, width) + qkv + attention(tokens, width) + out + mlp


def tiny(name: str, frames: int, **options: object) -> torch.nn.Module:
    return build_model(ModelSpec(name=name, backbone=TINY, pretrained=None, options=options), frames=frames)


def test_attention_handle_counts_sdpa() -> None:
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    module = torch.nn.Identity()
    assert count_flops(module, F.scaled_dot_product_attention, (q, k, v)) == 2 * 3 * 5 * 7 * (8 + 4)


def test_tiny_vanilla_video_and_text_by_hand() -> None:
    frames, tokens, width = 4, 17, 64
    conv = 16 * width * 3 * 8 * 8
    # open_clip applies ln_post to every token before taking the class token
    frame = conv + ln(tokens, width) + 2 * clip_block(tokens, width) + ln(tokens, width) + width * 32
    model = tiny("vanilla_clip", frames)
    assert video_gflops(model, torch.zeros(1, frames, 3, 32, 32)) * 1e9 == pytest.approx(frames * frame, abs=1)
    text = 2 * clip_block(77, 32) + ln(77, 32) + 32 * 32
    assert text_gflops(model, ["x"]) * 1e9 == pytest.approx(text, abs=1)
    assert text_gflops(model, ["x", "y", "z"]) * 1e9 == pytest.approx(3 * text, abs=1)


def test_tiny_omniclip_video_by_hand() -> None:
    frames, width, embed, hidden = 4, 64, 32, 16
    tokens = 17 + 4  # class + 16 patches + 4 SPG prompts (2x2 pooling of the 4x4 grid)
    conv = 16 * width * 3 * 8 * 8
    spg = 2 * 4 * width * 4 * width  # projector MLP on the 4 pooled tokens
    pta = tokens * (width * hidden + hidden * 3 * hidden + hidden * width) + tokens * frames * 2 * hidden
    per_frame = conv + ln(17, width) + spg + 2 * (clip_block(tokens, width) + pta) + ln(1, width) + width * embed
    head = ln(frames, embed) + frames * embed * 3 * embed + attention(frames, embed) + frames * embed * embed
    model = tiny("omniclip", frames)
    measured = video_gflops(model, torch.zeros(1, frames, 3, 32, 32)) * 1e9
    assert measured == pytest.approx(frames * per_frame + head, abs=1)
    without = tiny("omniclip", frames, use_spg=False, use_pta=False)
    plain = conv + ln(17, width) + 2 * clip_block(17, width) + ln(1, width) + width * embed
    assert video_gflops(without, torch.zeros(1, frames, 3, 32, 32)) * 1e9 == pytest.approx(frames * plain + head, abs=1)


def test_cost_counts_parameters_and_scopes() -> None:
    model = tiny("xclip", 4)
    cost = measure_cost(model, frames=4, size=32, classes=10)
    assert cost.params_total == sum(p.numel() for p in model.parameters())
    assert cost.params_trainable == sum(p.numel() for p in model.parameters() if p.requires_grad) < cost.params_total
    assert cost.gflops_text_classes == pytest.approx(10 * cost.gflops_text_one)
    assert cost.gflops_view_one_text > cost.gflops_video + cost.gflops_text_one  # + video-specific prompting
    assert set(cost.to_dict()["scope"]) >= {"gflops_video", "gflops_text_one", "params_total", "params_trainable"}


def test_flops_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["flops", "omniclip", "--backbone", TINY, "--frames", "4", "-o", "ratio=0.5", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {"gflops_video", "gflops_text_one", "params_total", "params_trainable"} <= set(data)
    assert data["options"] == {"ratio": 0.5} and data["frames"] == 4 and data["size"] == 32
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
    """Within 2% of the papers: CLIP B/16 frame 17.58, ViFi-CLIP 16 frames ≈ 281, X-CLIP 8 frames ≈ 145."""
    vanilla = video_gflops(_b16_model(b16, "vanilla_clip", 1), torch.zeros(1, 1, 3, 224, 224))
    assert vanilla == pytest.approx(17.58, rel=0.02)
    vifi = video_gflops(_b16_model(b16, "vificlip", 16), torch.zeros(1, 16, 3, 224, 224))
    assert vifi == pytest.approx(281, rel=0.02)
    xclip = measure_cost(_b16_model(b16, "xclip", 8), frames=8, size=224, classes=1)
    assert xclip.gflops_view_one_text == pytest.approx(145, rel=0.02)  # video + one text prompt


@pytest.mark.slow
def test_omniclip_b16_cost_beside_the_paper(b16: tuple) -> None:
    measured = video_gflops(_b16_model(b16, "omniclip", 8), torch.zeros(1, 8, 3, 224, 224))
    print(f"OmniCLIP ViT-B/16, 8 frames: {measured:.1f} GFLOPs measured; paper (Table 2): 130")
    assert measured > 8 * 17.58  # SPG adds K/4 = 49 tokens to every frame's 197


def test_record_cost_block_matches_the_record_schema() -> None:
    model = tiny("omniclip", 4).train()
    cost = record_cost(model, frames=4, size=32)
    assert set(cost) == {"gflops_video", "gflops_text_one", "params_total", "params_trainable", "scope"}
    assert cost["gflops_video"] == pytest.approx(video_gflops(model, torch.zeros(1, 4, 3, 32, 32)))
    assert isinstance(cost["scope"], str) and model.training  # the mode is restored
