"""What would fail on the compute node is found by `validate` and `--dry-run`, with where it was
set."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest

from omnibench.data import MOTIONS, SynthConfig, generate_synthetic
from tests.conftest import Invoke

SUITE = """\
name: checked
description: few-shot on a small synthetic copy
table: {paper_table: null, title: Checked, layout: grid, rows: [model.name], \
columns: [protocol_options.shots], metrics: [top1]}
base:
  protocol: few_shot
  dataset: synthetic
  model: {name: vificlip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 10, warmup_epochs: 1}
grid:
  protocol_options.shots: [2, 4]
"""


@pytest.fixture()
def checked(tmp_path: Path) -> tuple[Path, Path]:
    """The suite file and a data root whose synthetic copy has 3 training videos per class."""
    root = tmp_path / "data"
    generate_synthetic(
        root / "synthetic",
        SynthConfig(classes=tuple(MOTIONS)[:2], videos_per_class=6, frames=4, size=32),
    )
    path = tmp_path / "checked.yaml"
    path.write_text(SUITE)
    return path, root


def _write(path: Path, old: str, new: str) -> Path:
    path.write_text(path.read_text().replace(old, new))
    return path


def test_shots_beyond_a_class_are_found_in_the_dry_run(
    checked: tuple[Path, Path], tmp_path: Path, cli: Invoke
) -> None:
    path, root = checked
    args = [
        "run",
        str(path),
        "--dry-run",
        "--results",
        str(tmp_path / "r"),
        "--data-root",
        str(root),
    ]
    code, out = cli(*args)
    assert code == 2, out
    assert (
        f"error: {path}:11: synthetic/train: 2 of its 2 classes "
        "have fewer than 4 videos (e.g. 'object moving left' "
        "has 3); lower protocol_options.shots"
    ) in out
    assert (
        "1 problem would stop these runs" in out and "checked: 2 runs (dry run)" in out
    )  # the runs are listed
    code, out = cli(*args, "--shots", "2")
    assert code == 0, out


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "backbone: omnibench-tiny-vit",
            "backbone: omnibench-tiny-vt",
            7,
            "model.backbone: open_clip has no backbone "
            "'omnibench-tiny-vt' (did you mean 'omnibench-tiny-vit'?)",
        ),
        (
            "pretrained: null",
            "pretrained: /ckpt/missing/ViT-B-16.pt",
            7,
            "model.pretrained: file not found: /ckpt/missing/ViT-B-16.pt",
        ),
        (
            "pretrained: null",
            "pretrained: opena",
            7,
            "model.pretrained 'opena' is neither a file nor an "
            "open_clip tag of 'omnibench-tiny-vit'; its tags: none",
        ),
        (
            "input_size: 32, short_side: 32",
            "input_size: 64, short_side: 64",
            8,
            "data.input_size is 64 but vificlip on 'omnibench-tiny-vit' takes 32 px frames",
        ),
    ],
)
def test_validate_finds_what_would_fail_on_the_node(
    checked: tuple[Path, Path], old: str, new: str, line: int, message: str, cli: Invoke
) -> None:
    path, _ = checked
    code, out = cli("validate", str(_write(path, old, new)))
    assert code == 2 and f"error: {path}:{line}: {message}" in " ".join(out.split()), out


def test_a_tag_missing_from_the_cache_is_an_error_only_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Invoke
) -> None:
    path = tmp_path / "clip.yaml"
    path.write_text(
        SUITE.replace("name: checked", "name: clip")
        .replace(
            "backbone: omnibench-tiny-vit, pretrained: null",
            "backbone: ViT-B-16, pretrained: openai",
        )
        .replace("input_size: 32, short_side: 32", "input_size: 224, short_side: 256")
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out = cli("validate", str(path))
    assert (
        code == 2
        and "the weights of ViT-B-16 are not in this machine's cache and HF_HUB_OFFLINE is set"
        in out
    )
    assert "timm/vit_base_patch16_clip_224.openai" in out  # where to fetch them from
    snapshot = tmp_path / "hub" / "models--timm--vit_base_patch16_clip_224.openai"
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text("abc123")
    (snapshot / "snapshots" / "abc123").mkdir(parents=True)
    (snapshot / "snapshots" / "abc123" / "open_clip_model.safetensors").write_bytes(b"weights")
    code, out = cli("validate", str(path))
    assert code == 0, out  # the pre-filled cache serves them
    monkeypatch.delenv("HF_HUB_OFFLINE")
    (snapshot / "snapshots" / "abc123" / "open_clip_model.safetensors").unlink()
    code, out = cli("validate", str(path))
    assert code == 0, out  # online, open_clip downloads them


def test_a_training_shorter_than_its_warmup_is_a_warning(
    checked: tuple[Path, Path], cli: Invoke
) -> None:
    path, _ = checked
    code, out = cli("validate", str(path))
    assert code == 0 and "warning" not in out
    code, out = cli(
        "validate", str(_write(path, "epochs: 10, warmup_epochs: 1", "epochs: 2, warmup_epochs: 5"))
    )
    assert (
        code == 0
        and f"warning: {path}:9: optim.epochs=2 is not above optim.warmup_epochs=5"
        in " ".join(out.split())
    )


def test_ablate_dry_run_lists_every_run_and_marks_undeclared_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Invoke
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "none.yaml"))
    (tmp_path / "data" / "hmdb51").mkdir(parents=True)
    code, out = cli(
        "ablate",
        "ratio",
        "--dry-run",
        "--results",
        str(tmp_path / "r"),
        "--data-root",
        str(tmp_path / "data"),
    )
    assert code == 0, out
    rows = [line for line in out.splitlines() if line[:12].isalnum() and len(line.split()[0]) == 12]
    assert len(rows) == 8 and sum("declare k400_tiny first" in row for row in rows) == 4
    assert "to run it, declare k400_tiny in" in out and "8 would execute" in out
    code, out = cli(
        "ablate", "ratio", "--results", str(tmp_path / "r"), "--data-root", str(tmp_path / "data")
    )
    assert (
        code == 2 and "unknown dataset 'k400_tiny'" in out
    )  # a real run still needs the declaration
