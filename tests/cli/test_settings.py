"""`--set KEY=VALUE` and `--limit N` on run / ablate / status / report, through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.cli.options import suite_settings
from omnibench.store.run_store import RunStore
from omnibench.suite.load import load_suite
from tests.conftest import Invoke, TinyData, cpu_options

SUITE = """\
name: smoke
description: two models on the synthetic benchmark
table: {paper_table: null, title: Smoke, layout: grid, rows: [model.name], columns: [protocol], \
metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 1, batch_size: 4, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0, lr: 1.0e-3}
grid:
  model.name: [vificlip, xclip]
overrides:
  - when: {model.name: xclip}
    set: {optim.lr: 3.0e-4}
"""


@pytest.fixture()
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "smoke.yaml"
    path.write_text(SUITE)
    return path


def test_set_changes_every_run_its_id_and_shows_in_the_dry_run(
    suite_file: Path, tmp_path: Path, cli: Invoke
) -> None:
    plain = load_suite(suite_file)
    chosen = load_suite(
        suite_file, suite_settings(["optim.epochs=2", "seed=3", "optim.lr=1e-4"], None)
    )
    assert [(s.optim.epochs, s.seed, s.optim.lr) for s in chosen.specs] == [
        (2, 3, 1e-4),
        (2, 3, 1e-4),
    ]  # --set beats the override
    assert not {s.run_id() for s in plain.specs} & {s.run_id() for s in chosen.specs}
    code, out = cli(
        "run",
        str(suite_file),
        "--dry-run",
        "--results",
        str(tmp_path / "r"),
        "--set",
        "optim.epochs=2",
        "--set",
        "seed=3",
        "--set",
        "optim.lr=1e-4",
    )
    assert code == 0, out
    assert all(s.run_id() in out for s in chosen.specs)
    assert (
        "set in every run (part of its spec and id): optim.epochs=2, seed=3, optim.lr=0.0001" in out
    )


def test_set_on_ablate_reaches_every_run(tmp_path: Path, cli: Invoke) -> None:
    weights = tmp_path / "ckpt" / "ViT-B-16.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"PK\x03\x04weights")  # only its first bytes are checked before a run
    (tmp_path / "data" / "hmdb51").mkdir(parents=True)
    pairs = [
        f"model.pretrained={weights}",
        "optim.epochs=12",
        "model.options.activation=quick_gelu",
    ]
    code, out = cli(
        "ablate",
        "ratio",
        "-d",
        "hmdb51",
        "--dry-run",
        "--results",
        str(tmp_path),
        "--data-root",
        str(tmp_path / "data"),
        *[arg for pair in pairs for arg in ("--set", pair)],
    )
    assert code == 0, out
    settings = suite_settings(pairs, None)
    specs = [s for s in load_suite("ablation-ratio", settings).specs if s.dataset == "hmdb51"]
    assert len(specs) == 4 and all(s.run_id() in out for s in specs)
    assert {(s.model.pretrained, s.optim.epochs) for s in specs} == {(str(weights), 12)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "optim.epoch=2"],
            "--set optim.epoch=2: unknown spec path 'optim.epoch' (did you mean 'optim.epochs'?)",
        ),
        (
            ["--set", "optim.epochs=two"],
            "--set optim.epochs=two: optim.epochs: expected int, got 'two'",
        ),
        (
            ["--set", "optim.epochs"],
            "--set 'optim.epochs': expected KEY=VALUE, e.g. --set optim.epochs=2",
        ),
        (["--set", "limit=0"], "--set limit=0: limit: must be an integer >= 1"),
        (["--set", "seed=-1"], "--set seed=-1: seed: must be an integer in [0, 2**63)"),
        (["--set", "data_seed=-2"], "--set data_seed=-2: data_seed: must be an integer in"),
        (["--set", "optim.lr=.inf"], "--set optim.lr=.inf: optim.lr: must be a finite number"),
        (["--set", "optim.weight_decay=.inf"], "optim.weight_decay: must be a finite number, got"),
        (["--set", "optim.lr=.nan"], "--set optim.lr=.nan: optim.lr: must be a finite number"),
        (["--set", "optim=3"], "--set optim=3: 'optim' must be a mapping, got int"),
    ],
)
def test_bad_settings_are_one_line_errors(
    suite_file: Path, tmp_path: Path, args: list[str], message: str, cli: Invoke
) -> None:
    code, out = cli("run", str(suite_file), "--dry-run", "--results", str(tmp_path), *args)
    assert code == 2 and message in " ".join(out.split()) and "Traceback" not in out
    code, out = cli("ablate", "modules", "--dry-run", "--results", str(tmp_path), *args)
    assert code == 2 and message.split(":")[0] in out


def test_limit_zero_is_refused(suite_file: Path, tmp_path: Path, cli: Invoke) -> None:
    code, out = cli("run", str(suite_file), "--dry-run", "--limit", "0")
    assert code == 2 and "--limit" in out


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data(videos_per_class=8)


def _per_class(data_root: Path, split: str) -> list[int]:
    from omnibench.data import get_dataset

    counts = get_dataset("synthetic", data_root=data_root).load_split(split).class_counts()
    return [counts[c] for c in sorted(counts)]


def test_a_limited_run_reads_n_videos_per_class_and_says_so_everywhere(
    suite_file: Path, tmp_path: Path, data_root: Path, cli: Invoke
) -> None:
    results = tmp_path / "results"
    common = ["--results", str(results), "--limit", "2"]
    code, out = cli("run", str(suite_file), "-m", "vificlip", *common, *cpu_options(data_root))
    assert code == 0, out
    spec = load_suite(suite_file, suite_settings([], 2)).specs[0]
    record = RunStore(results).read_record("smoke", spec.run_id())
    assert record["spec"]["limit"] == 2
    assert [e["videos"] for e in record["evaluations"]] == [
        sum(min(n, 2) for n in _per_class(data_root, "test1"))
    ]
    assert record["train"]["clips"] == 4  # 2 per class of 3 classes = 6 videos: one full batch of 4
    assert "(limit 2)" in out and "limited: at most 2 videos per class" in out
    assert (
        f"[1/1] start smoke/{spec.run_id()} (vificlip)" in out
        and f"[1/1] done smoke/{spec.run_id()} in " in out
    )
    code, out = cli("status", str(suite_file), *common, "--json")
    rows = {row["run_id"]: row for row in json.loads(out)}
    assert rows[spec.run_id()]["top1"].endswith("(limit 2)")
    code, out = cli("status", str(suite_file), "--results", str(results))
    assert "1 other stored run of 'smoke'" in out  # the limited run is not one of the suite's own
    code, out = cli("report", str(suite_file), *common, "--json")
    table = json.loads(out)[0]
    assert (
        table["title"].endswith("[limit 2]")
        and "not comparable with published numbers" in table["notes"][0]
    )


def test_command_defaults_are_the_options_defaults() -> None:
    """One source for each default: `run`, `ablate`, `eval` and `bench` show the defaults of
    LaunchOptions / RuntimeOptions / BenchSettings, never a copy."""
    import dataclasses
    import inspect

    from omnibench.bench.settings import BenchSettings
    from omnibench.cli import bench, evaluate, runs
    from omnibench.config.runtime import LaunchOptions

    launch = LaunchOptions()
    runtime = dataclasses.asdict(launch.runtime)
    for command in (runs.run, runs.ablate, evaluate.evaluate):
        params = inspect.signature(command).parameters
        shown = {name: params[name].default for name in runtime if name in params}
        assert shown == {name: runtime[name] for name in shown}, command.__name__
        assert {"workers", "device", "decoder", "data_root"} <= set(shown)
    for command in (runs.run, runs.ablate):
        params = inspect.signature(command).parameters
        for name in ("executor", "profile", "max_parallel"):
            assert params[name].default == getattr(launch, name), (command.__name__, name)
    params = inspect.signature(bench.bench).parameters
    for field in dataclasses.fields(BenchSettings):
        if field.default is not dataclasses.MISSING:
            assert params[field.name].default == field.default, field.name
