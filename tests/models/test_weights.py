"""Pretrained weights from local files: OpenAI-style TorchScript archives and state dicts load with
the activation their blocks were trained with (detected or stated, never guessed), which is
recorded."""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path

import pytest
import torch

from omnibench.config.spec import ModelSpec, SpecError
from omnibench.errors import OmniBenchError
from omnibench.models import build_model, weights
from omnibench.models.catalogue import CONFIG_DIR
from omnibench.models.weights import file_activation, hub_repository, is_torchscript

TINY = "omnibench-tiny-vit"
FRAMES = 2
CLASSES = ["archery", "bowling"]
OPENAI_EXTRAS = {"input_resolution": 32, "context_length": 77, "vocab_size": 49408}


def build(pretrained: str | None, **options: object) -> torch.nn.Module:
    spec = ModelSpec(name="vanilla_clip", backbone=TINY, pretrained=pretrained, options=options)
    return build_model(spec, frames=FRAMES)


def features(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    clip = torch.randn(2, FRAMES, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return model.encode_video(clip), model.compute_text_features(CLASSES)


def openai_archive(model: torch.nn.Module, path: Path, half: bool = False) -> Path:
    """Trace ``model.clip`` the way OpenAI's ``ViT-B-16.pt`` was made: a traced CLIP with its
    resolution / context length / vocabulary size stored beside the weights (fp16 weights with
    ``half``)."""
    clip = model.clip
    for name, value in OPENAI_EXTRAS.items():
        if hasattr(clip, name):
            delattr(clip, name)
        clip.register_buffer(name, torch.tensor(value))
    tokens = model.tokenize(CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the tracer's notes on shape checks inside nn.MultiheadAttention
        archive = torch.jit.trace(clip, (torch.zeros(2, 3, 32, 32), tokens), check_trace=False)
    if half:
        archive = archive.half()
    archive.save(str(path))
    return path


@pytest.fixture(scope="module")
def quickgelu_source() -> torch.nn.Module:
    torch.manual_seed(11)
    return build(None, activation="quick_gelu")


def test_quickgelu_state_dict_and_torchscript_reload_to_identical_features(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    expected = features(quickgelu_source)
    state = tmp_path / "tiny.pt"
    torch.save(quickgelu_source.clip.state_dict(), state)
    archive = openai_archive(copy.deepcopy(quickgelu_source), tmp_path / "ViT-B-16.pt")
    assert is_torchscript(archive) and not is_torchscript(state)
    from_state = build(str(state), activation="quick_gelu")
    from_archive = build(str(archive))  # the activation is read from the archive's modules
    for model in (from_state, from_archive):
        for got, want in zip(features(model), expected):
            assert torch.equal(got, want)
        assert model.weights.activation == "quick_gelu"
        assert type(model.clip.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    assert from_archive.weights.kind == "TorchScript archive"
    assert from_archive.weights.activation_source == "TorchScript archive modules"
    assert from_state.weights.kind == "state-dict file"
    assert from_state.weights.activation_source == "model.options.activation"


def test_an_fp16_archive_loads_as_its_rounded_weights(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    """OpenAI ships fp16 archives: they load into the fp32 model as the fp16-rounded weights."""
    rounded = build(None, activation="quick_gelu")
    rounded.load_state_dict({k: v.half().float() for k, v in quickgelu_source.state_dict().items()})
    half = build(
        str(openai_archive(copy.deepcopy(quickgelu_source), tmp_path / "fp16.pt", half=True))
    )
    for got, want in zip(features(half), features(rounded)):
        assert torch.equal(got, want)


def test_a_state_dict_loaded_as_gelu_gives_other_features(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    """What a silent default would do: the activation matters even at tiny scale."""
    state = tmp_path / "tiny.pt"
    torch.save(quickgelu_source.clip.state_dict(), state)
    as_gelu = build(str(state), activation="gelu")
    assert as_gelu.weights.activation == "gelu"
    assert not torch.allclose(features(as_gelu)[0], features(quickgelu_source)[0], atol=1e-4)


def test_a_state_dict_without_a_stated_activation_is_refused(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    state = tmp_path / "tiny.pt"
    torch.save(quickgelu_source.clip.state_dict(), state)
    with pytest.raises(OmniBenchError) as info:
        build(str(state))
    message = str(info.value)
    assert (
        "\n" not in message
        and str(state) in message
        and "model.options.activation: quick_gelu" in message
    )


@pytest.mark.parametrize("junk", [b"\x9bvY\xc2*\xaee\x02" * 1000, b""], ids=["random", "empty"])
def test_a_junk_weights_file_is_named_as_such_before_and_when_loading(
    tmp_path: Path, junk: bytes
) -> None:
    from omnibench.models.weights import check_statement

    path = tmp_path / "junk.pt"
    path.write_bytes(junk)
    wanted = rf"^model.pretrained {path} is not a weights file: neither torch.save's zip or pickle"
    with pytest.raises(OmniBenchError, match=wanted):
        check_statement(TINY, str(path), "quick_gelu")  # validate and --dry-run
    with pytest.raises(OmniBenchError, match=wanted):
        build(str(path), activation="quick_gelu")  # the run itself


def test_a_sidecar_open_clip_config_declares_the_activation(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    """A Hugging Face snapshot copied to the cluster: open_clip_config.json beside the weights
    file."""
    state = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(quickgelu_source.clip.state_dict(), state)
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"quick_gelu": True}}))
    model = build(str(state))
    assert (
        model.weights.activation == "quick_gelu"
        and "open_clip_config.json" in model.weights.activation_source
    )
    assert torch.equal(features(model)[0], features(quickgelu_source)[0])
    with pytest.raises(
        OmniBenchError,
        match="model.options.activation says gelu but .*open_clip_config.json says quick_gelu",
    ):
        build(str(state), activation="gelu")


def test_stated_activation_must_agree_with_archive_tag_and_backbone_name(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    archive = openai_archive(copy.deepcopy(quickgelu_source), tmp_path / "ViT-B-16.pt")
    with pytest.raises(
        OmniBenchError, match="activation says gelu but TorchScript archive .* says quick_gelu"
    ):
        build(str(archive), activation="gelu")
    with pytest.raises(
        OmniBenchError, match="activation says gelu but open_clip's tag 'openai' says quick_gelu"
    ):
        build_model(
            ModelSpec(
                name="vanilla_clip",
                backbone="ViT-B-32",
                pretrained="openai",
                options={"activation": "gelu"},
            ),
            frames=1,
        )
    assert file_activation("ViT-B-16-quickgelu", tmp_path / "x.pt", None) == (
        "quick_gelu",
        "backbone config 'ViT-B-16-quickgelu' (quick_gelu: true)",
    )
    with pytest.raises(
        OmniBenchError,
        match="activation says gelu but backbone 'ViT-B-16-quickgelu' says quick_gelu",
    ):
        file_activation("ViT-B-16-quickgelu", tmp_path / "x.pt", "gelu")
    with pytest.raises(OmniBenchError, match=r"\(or backbone 'ViT-B-16-quickgelu'\)"):
        file_activation("ViT-B-16", tmp_path / "x.pt", None)
    with pytest.raises(
        SpecError, match="activation: 'quickgelu' is not one of quick_gelu, gelu.*did you mean"
    ):
        build(None, activation="quickgelu")


def test_a_file_is_a_tags_published_weights_only_with_that_files_digest(
    quickgelu_source: torch.nn.Module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = openai_archive(build(None, activation="quick_gelu"), tmp_path / "ViT-tiny.pt")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    published = {
        "openai": {"url": f"https://openaipublic.azureedge.net/clip/models/{digest}/ViT-tiny.pt"},
        "laion": {"url": "", "hf_hub": "laion/tiny/"},
    }
    monkeypatch.setattr(weights, "pretrained_tags", lambda backbone: list(published))
    monkeypatch.setattr(weights, "pretrained_cfg", lambda backbone, tag: published[tag])
    assert build(str(archive)).weights.published_as == "openai"
    other = tmp_path / "other.pt"
    torch.save(quickgelu_source.clip.state_dict(), other)
    assert build(str(other), activation="quick_gelu").weights.published_as is None
    assert build(None, activation="quick_gelu").weights.published_as is None


def test_random_init_records_the_backbone_config_activation() -> None:
    model = build(None)
    assert model.weights.to_dict() == {
        "pretrained": None,
        "kind": "random init",
        "activation": "gelu",
        "activation_source": f"backbone config '{TINY}' (random init)",
        "published_as": None,
    }


def test_a_config_registered_at_run_time_keeps_its_activation(tmp_path: Path) -> None:
    """A user's own open_clip config (``open_clip.add_model_config``) with ``quick_gelu: true``:
    its random-init blocks use QuickGELU and the record says so (it used to get GELU while the
    record named that config as the source)."""
    import open_clip
    from open_clip.transformer import QuickGELU

    config = json.loads((CONFIG_DIR / f"{TINY}.json").read_text())
    (tmp_path / "runtime-quickgelu-vit.json").write_text(json.dumps({**config, "quick_gelu": True}))
    open_clip.add_model_config(tmp_path / "runtime-quickgelu-vit.json")
    model = build_model(
        ModelSpec(name="vanilla_clip", backbone="runtime-quickgelu-vit", pretrained=None), frames=1
    )
    assert {type(m) for m in model.modules()} & {QuickGELU, torch.nn.GELU} == {QuickGELU}
    assert (model.weights.activation, model.weights.activation_source) == (
        "quick_gelu",
        "backbone config 'runtime-quickgelu-vit' (quick_gelu: true)",
    )


def test_offline_error_names_the_hugging_face_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(
        OmniBenchError,
        match="repository timm/vit_base_patch32_clip_224.openai and set HF_HUB_OFFLINE=1",
    ):
        build_model(
            ModelSpec(name="vanilla_clip", backbone="ViT-B-32", pretrained="openai"), frames=1
        )


def test_documented_hub_repositories_match_open_clip() -> None:
    """docs/WEIGHTS.md's table of repository ids is what the installed open_clip reads."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "WEIGHTS.md"
    rows = [
        line.split("|")[1:4]
        for line in doc.read_text().splitlines()
        if line.startswith("| `") and "`timm/" in line
    ]
    assert len(rows) >= 4
    for backbone, tag, repo in rows:
        assert hub_repository(backbone.strip(" `"), tag.strip(" `")) == repo.strip(" `")


@pytest.mark.slow
def test_a_prefilled_hugging_face_cache_loads_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Route 2 end to end: ViT-B-32 weights in a Hugging Face cache laid out as `hf download` leaves
    it, loaded with HF_HUB_OFFLINE=1 through the `openai` tag (random weights stand in for
    OpenAI's)."""
    from safetensors.torch import save_file

    torch.manual_seed(2)
    source = build_model(
        ModelSpec(name="vanilla_clip", backbone="ViT-B-32-quickgelu", pretrained=None), frames=1
    )
    repo = tmp_path / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file(
        {k: v.contiguous() for k, v in source.clip.state_dict().items()},
        snapshot / "open_clip_model.safetensors",
    )
    # reads its environment at import: set the values it uses
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    loaded = build_model(
        ModelSpec(name="vanilla_clip", backbone="ViT-B-32", pretrained="openai"), frames=1
    )
    assert loaded.weights.kind == "open_clip tag" and loaded.weights.activation == "quick_gelu"
    image = torch.randn(1, 1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.encode_video(image), source.encode_video(image))


def test_validate_refuses_an_unstated_state_dict_at_its_line(
    quickgelu_source: torch.nn.Module, tmp_path: Path
) -> None:
    from omnibench.checks.suite import check_suite
    from omnibench.suite.load import load_suite

    state = tmp_path / "clip.pt"
    torch.save(quickgelu_source.clip.state_dict(), state)
    suite_text = (
        "name: weights\ndescription: d\n"
        "table: {paper_table: null, title: t, layout: grid, rows: "
        "[model.name], columns: [dataset], metrics: [top1]}\n"
        "base:\n  protocol: eval_only\n  dataset: synthetic\n"
        f"  model: {{name: vanilla_clip, backbone: {TINY}, pretrained: {state}}}\n"
    )
    path = tmp_path / "weights.yaml"
    path.write_text(suite_text)
    with pytest.raises(
        OmniBenchError,
        match=rf"^{path}:7: model.pretrained {state} is a state dict that does not say",
    ):
        check_suite(load_suite(path))
    path.write_text(
        suite_text.replace("pretrained:", "options: {activation: quick_gelu}, pretrained:")
    )
    check_suite(load_suite(path))
