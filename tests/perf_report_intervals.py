"""Time the report's paired intervals on a 1000-run store (not collected by pytest; run by hand):

    .venv/bin/python -m tests.perf_report_intervals /tmp/store   # builds the store on first use

1000 finished runs: 25 settings × 2 datasets (1530 and 3783 test videos, HMDB51 / UCF101 split 1)
× 20 seeds, each with a predictions.csv as the runner writes it. Prints the wall and CPU seconds of
the table without and with the Δ-to-reference rows (default 10 000 resamples).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omnibench.config.spec import RunSpec
from omnibench.report.build import build_tables
from omnibench.report.records import collect_runs
from omnibench.report.stats import BootstrapSettings
from omnibench.store.run_files import PREDICTIONS_FILE, RECORD_FILE
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import TableSpec
from tests.report_fixtures import make_record

VIDEOS = {"hmdb51": 1530, "ucf101": 3783}
RATIOS = [round(0.04 * (i + 1), 2) for i in range(25)]


def build(store: RunStore, specs: list[RunSpec]) -> None:
    """Records and predictions (70 % right, at random) of every run."""
    rng = np.random.default_rng(0)
    for spec in specs:
        n = VIDEOS[spec.dataset]
        correct = rng.random(n) < 0.7
        run_dir = store.run_dir("perf", spec.run_id())
        run_dir.mkdir(parents=True)
        pd.DataFrame(
            {
                "dataset": spec.dataset,
                "split": "test1",
                "index": np.arange(n),
                "path": [f"/data/{spec.dataset}/v{i:05d}.avi" for i in range(n)],
                "label": np.arange(n) % 51,
                "label_name": "x",
                "pred": 0,
                "pred_name": "x",
                "correct": correct,
                "top_classes": "1 2 3 4 5",
                "top_scores": "0.5 0.2 0.1 0.1 0.1",
                "broken": "",
            }
        ).to_csv(run_dir / PREDICTIONS_FILE, index=False)
        atomic_write_json(
            run_dir / RECORD_FILE, make_record(spec, "perf", {"top1": 100 * correct.mean()})
        )


def main(root: Path) -> None:
    store = RunStore(root)
    specs = [
        RunSpec.from_dict(
            {
                "protocol": "supervised",
                "dataset": d,
                "seed": s,
                "model": {"name": "omniclip", "options": {"ratio": r}},
            }
        )
        for d in VIDEOS
        for r in RATIOS
        for s in range(20)
    ]
    if not (root / "perf").exists():
        build(store, specs)
    runs = collect_runs("perf", specs, store)
    table = TableSpec("table8", "perf", "grid", ("model.options.ratio",), ("dataset",), ("top1",))
    reference = dataclasses.replace(table, reference={"model.options.ratio": 0.24})
    for name, spec in (("without intervals", table), ("with intervals", reference)):
        wall, cpu = time.perf_counter(), time.process_time()
        build_tables(spec, runs, BootstrapSettings())
        print(
            f"table {name}: {time.perf_counter() - wall:.2f} "
            f"s wall, {time.process_time() - cpu:.2f} s CPU"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="run store folder (built on first use)")
    main(parser.parse_args().store)
