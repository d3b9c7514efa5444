"""A synthetic campaign: a suite of N runs (``seeds:`` over four rows of the demo benchmark) and a
store in which all of them finished, written through omnibench's own writers.

Each run gets what a finished run leaves in its folder: ``spec.json`` (``RunStore.prepare``),
``status.json`` (``running`` with its job, then ``done``, as :mod:`omnibench.execution.job` writes
it), ``log.txt``, ``predictions.csv`` (``predictions_frame`` of an ``EvalResult``, written as the
runner writes it) and ``record.json`` (``build_record``, passed by ``check_record``, written last).
The predictions are drawn at random around each row's accuracy: the numbers mean nothing, the
files are the real thing. Used by ``tools/bench_campaign.py`` and the scale tests::

    python tools/campaign_store.py DIR --runs 1000     # DIR/campaign.yaml and DIR/results/
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

SUITE = "campaign"
CLASSES = ("left", "right", "up", "down")
# The demo's four rows: (model.name, model.options.use_pta) -> accuracy the predictions are drawn at
ROWS = {
    ("omniclip", None): 0.9,
    ("omniclip", False): 0.6,
    ("xclip", None): 0.85,
    ("vificlip", None): 0.3,
}
SUITE_TEXT = """\
name: {name}
description: A campaign of {runs} runs - seeds over the demo benchmark's rows (synthetic store)
table:
  paper_table: null
  title: Campaign scale, top-1 (%)
  layout: grid
  rows: [model.name, model.options.use_pta]
  columns: [protocol]
  metrics: [top1]
  reference: {{model.name: omniclip}}
base:
  protocol: supervised
  dataset: synthetic-directions
  model: {{backbone: omnibench-tiny-vit, pretrained: null}}
  data: {{frames: 8, input_size: 32, short_side: 32, test_clips: 1, test_crops: 1}}
  optim: {{epochs: 30, batch_size: 16, lr: 1.0e-3, min_lr: 1.0e-5, warmup_epochs: 1, mixup: 0.0,
          cutmix: 0.0, label_smoothing: 0.0, precision: fp32}}
seeds: [{seeds}]
grid:
  - model.name: [omniclip, xclip, vificlip]
  - model.name: [omniclip]
    model.options.use_pta: [false]
"""


def write_suite(folder: Path, runs: int, name: str = SUITE) -> Path:
    """``folder/<name>.yaml``: ``runs`` runs (a multiple of 4: one seed per run of each row)."""
    if runs % len(ROWS):
        raise ValueError(f"runs must be a multiple of {len(ROWS)}, got {runs}")
    seeds = ", ".join(str(s) for s in range(runs // len(ROWS)))
    path = folder / f"{name}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(SUITE_TEXT.format(name=name, runs=runs, seeds=seeds))
    return path


@contextlib.contextmanager
def _one_environment() -> Iterator[None]:
    """The git state and library versions of a record, looked up once instead of once per run."""
    from omnibench.protocols import record  # noqa: PLC0415

    with (
        mock.patch.object(record, "git_state", functools.cache(record.git_state)),
        mock.patch.object(record, "versions", functools.cache(record.versions)),
    ):
        yield


def _annotation_files(folder: Path) -> list[Path]:
    """The list files a run records the sha256 of (checked for changes whenever a store is read)."""
    files = []
    for split, count in (("train", 64), ("test1", 128)):
        path = folder / "synthetic-directions" / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"videos/{split}_{i:04d}.mp4 {i % 4}\n" for i in range(count)))
        files.append(path)
    return files


def _evaluation(seed: int, accuracy: float, videos: int) -> object:
    """An ``EvalResult`` whose top-1 is drawn around ``accuracy``."""
    import torch  # noqa: PLC0415

    from omnibench.engine.evaluate import EvalResult  # noqa: PLC0415

    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(videos) % len(CLASSES)
    scores = torch.rand(videos, len(CLASSES), generator=generator)
    right = torch.rand(videos, generator=generator) < accuracy
    scores[right, labels[right]] += 1.0
    scores = scores / scores.sum(dim=1, keepdim=True)
    paths = tuple(f"videos/test1_{i:04d}.mp4" for i in range(videos))
    return EvalResult(
        "synthetic-directions",
        "test1",
        CLASSES,
        paths,
        tuple(labels.tolist()),
        torch.arange(videos),
        labels,
        scores,
        [],
    )


def _history(epochs: int) -> list[dict[str, float]]:
    return [
        {"epoch": e + 1, "loss": 1.4 / (e + 1), "lr": 1e-3 * (1 - e / epochs)}
        for e in range(epochs)
    ]


def write_run(store: object, spec: object, index: int, files: list[Path], videos: int) -> None:
    """One finished run of ``spec`` in ``store``, written as a job and the runner write it."""
    import pandas as pd  # noqa: PLC0415

    from omnibench.atomic import atomic_write_json, atomic_write_text  # noqa: PLC0415
    from omnibench.engine.evaluate import predictions_frame  # noqa: PLC0415
    from omnibench.protocols.common import single_metrics  # noqa: PLC0415
    from omnibench.protocols.record import build_record  # noqa: PLC0415
    from omnibench.store.acceptance import check_record  # noqa: PLC0415
    from omnibench.store.run_files import PREDICTIONS_FILE, RECORD_FILE  # noqa: PLC0415
    from omnibench.store.states import RunState  # noqa: PLC0415

    run_id = spec.run_id()  # type: ignore[attr-defined]
    run_dir = store.prepare(SUITE, spec)  # type: ignore[attr-defined]
    job = f"{1000 + index // 1000}_{index % 1000}"
    store.write_status(SUITE, run_id, RunState.RUNNING, job_id=job, starts=1, host="node01")  # type: ignore[attr-defined]
    store.log_path(SUITE, run_id).write_text(f"run {SUITE}/{run_id} start #1 on node01\n")  # type: ignore[attr-defined]
    row = (spec.model.name, spec.model.options.get("use_pta"))  # type: ignore[attr-defined]
    evaluation = _evaluation(index, ROWS[row], videos)
    frame = predictions_frame(evaluation)  # type: ignore[arg-type]
    atomic_write_text(run_dir / PREDICTIONS_FILE, pd.concat([frame]).to_csv(index=False))
    record = build_record(
        spec=spec,  # type: ignore[arg-type]
        suite=SUITE,
        classes=CLASSES,
        files=files,
        cost={
            "gflops_video": 0.012,
            "gflops_text_one": 0.001,
            "params_total": 480_000,
            "params_trainable": 61_000,
            "scope": "video tower per view",
        },
        wall_time_s=41.5,
        clips_per_s=37.0,
        skipped={"train": 0, "eval": 0},
        metrics=single_metrics(evaluation),  # type: ignore[arg-type]
        evaluations=[evaluation.summary()],  # type: ignore[attr-defined]
        weights={
            "pretrained": None,
            "kind": "random",
            "activation": "gelu",
            "activation_source": "config",
            "published_as": None,
        },
        extra={
            "train": {
                "split": "synthetic-directions/train",
                "videos": 64,
                "epochs": 30,
                "clips": 1920,
                "history": _history(30),
            },
            "device": "cpu",
            "world_size": 1,
        },
    )
    check_record(record)
    atomic_write_json(run_dir / RECORD_FILE, record)
    store.write_status(SUITE, run_id, RunState.DONE)  # type: ignore[attr-defined]


def build_store(folder: Path, runs: int, videos: int = 128) -> tuple[Path, Path]:
    """``folder/campaign.yaml`` and ``folder/results`` with its ``runs`` runs finished (returned).

    A store that is already complete is kept as it is."""
    from omnibench.store.run_store import RunStore  # noqa: PLC0415
    from omnibench.suite.load import load_suite  # noqa: PLC0415

    suite_path, results = write_suite(folder, runs), folder / "results"
    done = folder / f".complete-{runs}"
    if done.is_file():
        return suite_path, results
    store = RunStore(results)
    files = _annotation_files(folder / "data")
    with _one_environment():
        for index, spec in enumerate(load_suite(suite_path).specs):
            if not store.is_done(SUITE, spec.run_id()):
                write_run(store, spec, index, files, videos)
    store.remember_suite(SUITE, suite_path)
    done.write_text(f"{runs}\n")
    return suite_path, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the suite file and results/ go")
    parser.add_argument("--runs", type=int, default=1000, help="runs (a multiple of 4)")
    parser.add_argument("--videos", type=int, default=128, help="test videos per run")
    args = parser.parse_args()
    start = time.perf_counter()
    suite, results = build_store(args.folder, args.runs, args.videos)
    print(f"{suite}: {args.runs} finished runs in {results} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
