"""A 1 000-run campaign stays cheap: budgets as ratios to a reference measured in the same test
(absolute times are tools/bench_campaign.py's, in docs/BENCHMARKS.md).

- expanding a suite of 1 000 runs costs less than validating its 1 000 specs one by one
  (``RunSpec.from_dict``), which it once cost several times over;
- judging 1 000 finished runs (``run``, ``status``) costs less than reading their record and
  status files, once the store's index knows them;
- the records a report holds of 1 000 done runs cost less than reading them from their files
  (``RunStore.read_record``: parsed and checked), once the suite's ``.tabulated.json`` holds them
  (reading the files, as the report did before it, costs about three times as much);
- the report's paired intervals over 1 000 runs cost less than parsing their predictions.csv
  files with pandas, once the outcome cache knows them.

Each side is the best of a few, on CPU time; each bound is about twice what the code needs (the
code before took several times the reference).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnibench.config.spec import RunSpec
from omnibench.execution.plan import plan_runs
from omnibench.report.build import build_tables
from omnibench.report.records import _tabulated, collect_runs
from omnibench.report.stats import BootstrapSettings
from omnibench.report.tabulated import tabulated_records
from omnibench.store import index as store_index
from omnibench.store.run_files import PREDICTIONS_FILE, RECORD_FILE, STATUS_FILE
from omnibench.store.run_store import RunStore, atomic_write_json, atomic_write_text
from omnibench.suite.load import load_suite
from tests.report_fixtures import make_record

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from campaign_store import SUITE, write_suite  # noqa: E402

RUNS = 1000
VIDEOS = 128


def best_cpu(work: Callable[[], Any], repeats: int = 3) -> float:
    """The least CPU time of ``repeats`` calls of ``work``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunStore]:
    """The 1 000-run campaign suite and a store in which every run finished, with predictions
    (written through the store's writers, without waiting for the disk: test data)."""
    folder = tmp_path_factory.mktemp("campaign")
    suite = write_suite(folder, RUNS)
    store = RunStore(folder / "results")
    rng = np.random.default_rng(0)
    fsync, os.fsync = os.fsync, lambda fd: None
    try:
        for spec in load_suite(suite).specs:
            _finish(store, spec, rng)
    finally:
        os.fsync = fsync
    return suite, store


def _finish(store: RunStore, spec: RunSpec, rng: np.random.Generator) -> None:
    run_dir = store.prepare(SUITE, spec)
    store.write_status(SUITE, spec.run_id(), "done", job_id="1_0")
    correct = rng.random(VIDEOS) < 0.7
    lines = [f"synthetic-directions,test1,{i},v{i}.mp4,{i % 4},{c}," for i, c in enumerate(correct)]
    header = "dataset,split,index,path,label,correct,broken\n"
    atomic_write_text(run_dir / PREDICTIONS_FILE, header + "\n".join(lines) + "\n")
    record = make_record(spec, SUITE, {"top1": 100 * correct.mean()})
    atomic_write_json(run_dir / RECORD_FILE, record)


@pytest.fixture(autouse=True)
def _keep_fresh_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store was written a moment ago: let the index and the outcome cache keep it."""
    monkeypatch.setattr(store_index, "RECENT_S", -60.0)


def test_expanding_1000_runs_costs_less_than_validating_their_specs(
    campaign: tuple[Path, RunStore],
) -> None:
    suite, _ = campaign
    specs = [spec.to_dict() for spec in load_suite(suite).specs]
    expanding = best_cpu(lambda: load_suite(suite))
    validating = best_cpu(lambda: [RunSpec.from_dict(data) for data in specs])
    assert expanding < validating, f"expanding {expanding:.2f}s, validating {validating:.2f}s"


def test_judging_1000_finished_runs_costs_less_than_reading_their_files(
    campaign: tuple[Path, RunStore],
) -> None:
    suite_file, store = campaign
    suite = load_suite(suite_file)
    plans = plan_runs(SUITE, suite.specs, store)  # builds the index
    assert {p.state for p in plans} == {"done"} and {p.action for p in plans} == {"skip"}
    dirs = [store.run_dir(SUITE, p.run_id) for p in plans]

    def read() -> None:
        for run_dir in dirs:
            json.loads((run_dir / RECORD_FILE).read_text())
            json.loads((run_dir / STATUS_FILE).read_text())

    judging = best_cpu(lambda: plan_runs(SUITE, suite.specs, store))
    reading = best_cpu(read)
    assert judging < reading, f"judging {judging:.2f}s, reading the files {reading:.2f}s"


def test_the_records_of_1000_done_runs_cost_less_than_reading_their_files(
    campaign: tuple[Path, RunStore],
) -> None:
    suite_file, store = campaign
    ids = [spec.run_id() for spec in load_suite(suite_file).specs]
    first = tabulated_records(store, SUITE, ids, _tabulated)  # fills the cache
    assert len(first) == RUNS and first[0] == _tabulated(store.read_record(SUITE, ids[0]) or {})
    served = best_cpu(lambda: tabulated_records(store, SUITE, ids, _tabulated))
    reading = best_cpu(lambda: [store.read_record(SUITE, run_id) for run_id in ids])
    assert served < reading, f"served {served:.2f}s, reading the records {reading:.2f}s"


@pytest.mark.slow
def test_intervals_over_1000_runs_cost_less_than_parsing_their_predictions(
    campaign: tuple[Path, RunStore],
) -> None:
    suite_file, store = campaign
    suite = load_suite(suite_file)
    runs = collect_runs(SUITE, suite.specs, store)
    settings = BootstrapSettings(resamples=1000)
    [table] = build_tables(suite.table, runs, settings)  # fills the outcome cache
    assert sum(row.source.startswith("Δ vs") for row in table.rows) == 3
    paths = [path / PREDICTIONS_FILE for path in runs.run_dirs.values()]
    reporting = best_cpu(
        lambda: build_tables(suite.table, collect_runs(SUITE, suite.specs, store), settings), 2
    )
    parsing = best_cpu(lambda: [pd.read_csv(path) for path in paths], repeats=2)
    assert reporting < parsing, f"the table {reporting:.2f}s, parsing {parsing:.2f}s"
