"""`omnibench eval`: a frozen model or a finished run's weights on a split, stored like any run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omnibench.data import MOTIONS
from omnibench.store.run_store import RunStore
from omnibench.suite.load import load_suite
from tests.conftest import Invoke, TinyData, cpu_options

SUITE = """\
name: trained
description: one tiny OmniCLIP trained on three motions
table: {paper_table: null, title: Trained, layout: grid, rows: [model.name], columns: [dataset], \
metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {name: omniclip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 2, batch_size: 4, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0, lr: 1.0e-3}
"""
TINY = [
    "--backbone",
    "omnibench-tiny-vit",
    "--frames",
    "4",
    "--set",
    "data.input_size=32",
    "--set",
    "data.short_side=32",
    "--set",
    "model.pretrained=null",
]


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    """``synthetic`` (three motions) and ``other-motions`` (three other motions, declared in
    datasets.yaml)."""
    root = tiny_data(videos_per_class=8)
    return tiny_data(tuple(MOTIONS)[3:6], name="other-motions", into=root)


@pytest.fixture()
def declared(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "datasets.yaml"
    config.write_text("other-motions: {format: list, root: %s}\n" % (data_root / "other-motions"))
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))
    return config


def _common(tmp_path: Path, data_root: Path) -> list[str]:
    return ["--results", str(tmp_path / "results"), *cpu_options(data_root)]


def test_eval_a_frozen_model_stores_a_record_and_reuses_it(
    tmp_path: Path, data_root: Path, cli: Invoke
) -> None:
    args = ["vanilla_clip", "-d", "synthetic", "-s", "test1", *TINY, *_common(tmp_path, data_root)]
    code, out = cli("eval", *args, "--views", "2x1")
    assert code == 0, out
    assert "2 clip(s) x 1 crop(s) of 4 frames per video" in out and "synthetic/test1: top-1 " in out
    [stored] = list(RunStore(tmp_path / "results").iter_runs("eval"))
    record = json.loads((stored.path / "record.json").read_text())
    assert record["spec"]["protocol"] == "eval_only" and record["spec"]["data"]["test_clips"] == 2
    assert f"top-1 {record['evaluations'][0]['top1']:.2f}" in out
    code, out = cli("eval", *args, "--views", "2x1")
    assert code == 0 and "stored result; --force reruns" in out
    code, out = cli("status", "eval", "--results", str(tmp_path / "results"), "--json")
    assert [row["state"] for row in json.loads(out)] == ["done"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["vanila_clip", "-d", "synthetic"],
            "unknown model 'vanila_clip' (did you mean 'vanilla_clip'?)",
        ),
        (
            ["vanilla_clip", "-d", "synthetc"],
            "--dataset synthetc: unknown dataset (did you mean 'synthetic'?)",
        ),
        (
            ["vanilla_clip", "-d", "synthetic", "--views", "4by3"],
            "--views '4by3': expected CLIPSxCROPS",
        ),
        (["omniclip", "-d", "synthetic", "--run", "0123"], "--run 0123: no run in"),
        (
            ["omniclip", "-d", "synthetic", "--run", "0123", "--pretrained", "x.pt"],
            "--pretrained FILE or --run RUN, not both",
        ),
    ],
)
def test_eval_bad_input_is_one_line(
    tmp_path: Path, args: list[str], message: str, cli: Invoke
) -> None:
    code, out = cli("eval", *args, "--results", str(tmp_path / "results"))
    assert code == 2 and message in out and "Traceback" not in out


def test_eval_of_a_run_reproduces_its_predictions_and_transfers_to_another_dataset(
    tmp_path: Path, data_root: Path, declared: Path, cli: Invoke
) -> None:
    suite_file = tmp_path / "trained.yaml"
    suite_file.write_text(SUITE)
    common = _common(tmp_path, data_root)
    code, out = cli("run", str(suite_file), *common)
    assert code == 0, out
    run_id = load_suite(suite_file).specs[0].run_id()
    store = RunStore(tmp_path / "results")
    own = pd.read_csv(store.run_dir("trained", run_id) / "predictions.csv")

    code, out = cli(
        "eval", "omniclip", "-d", "synthetic", "-s", "test1", "--run", run_id[:6], *common
    )
    assert code == 0, out
    assert f"(omnibench-tiny-vit; trained/{run_id})" in out
    [again] = [r for r in store.iter_runs("eval")]
    scores = pd.read_csv(again.path / "predictions.csv")
    assert list(scores["path"]) == list(own["path"]) and list(scores["pred"]) == list(own["pred"])
    assert _scores(scores) == pytest.approx(
        _scores(own), abs=1e-4
    )  # the run's own weights, the same numbers
    record = json.loads((again.path / "record.json").read_text())
    assert (
        record["weights_from"]["run"] == f"trained/{run_id}"
        and record["weights_from"]["epochs"] == 2
    )
    assert str(store.run_dir("trained", run_id).resolve() / "checkpoint.pt") in record["files"]

    code, out = cli(
        "eval",
        "omniclip",
        "-d",
        "synthetic",
        "-s",
        "test1",
        "--run",
        run_id,
        "--set",
        "seed=1024",
        *TINY[-2:],
        *common,
        "--set",
        "protocol_options.weights_from=null",
    )
    assert code == 0, out
    untrained = next(r for r in store.iter_runs("eval") if r.run_id != again.run_id)
    assert _scores(pd.read_csv(untrained.path / "predictions.csv")) != pytest.approx(
        _scores(own), abs=1e-4
    )

    code, out = cli("eval", "omniclip", "-d", "other-motions", "--run", run_id, *common)
    assert code == 0, out
    transfer = json.loads(
        next(
            p
            for p in (store.root / "eval").glob("*/record.json")
            if json.loads(p.read_text())["spec"]["dataset"] == "other-motions"
        ).read_text()
    )
    assert transfer["classes"] == list(MOTIONS)[3:6]
    assert [e["split"] for e in transfer["evaluations"]] == [
        "test1"
    ]  # a generic list dataset has one test split
    code, out = cli("eval", "xclip", "-d", "synthetic", "--run", run_id, *common)
    assert code == 2 and f"run trained/{run_id} trained omniclip, not xclip" in out


def _scores(frame: pd.DataFrame) -> list[float]:
    return [float(v) for row in frame["top_scores"] for v in str(row).split()]
