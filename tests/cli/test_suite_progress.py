"""The suite's progress line: starts and ends as they happen, done / failed counts, ETA from the
pace so far."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from omnibench.cli import suite_progress
from omnibench.cli.suite_progress import SuiteProgress, clock
from omnibench.config.spec import RunSpec
from omnibench.store.run_store import RunStore, atomic_write_json


def test_counts_and_eta_follow_the_runs_status_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path)
    specs = [
        RunSpec.from_dict({"protocol": "supervised", "dataset": "hmdb51", "seed": seed})
        for seed in range(4)
    ]
    ids = [spec.run_id() for spec in specs]
    for spec in specs:
        store.prepare("s", spec)
    store.write_status("s", ids[3], "failed", error="from an earlier invocation", starts=1)
    now = [1000.0]
    monkeypatch.setattr(suite_progress.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    progress = SuiteProgress(
        store, "s", {i: f" (seed {n})" for n, i in enumerate(ids)}, rich=False, stream=out
    )
    progress.poll()
    assert (
        out.getvalue() == "" and progress.status() == "run 1/4 · 0 done · 0 failed"
    )  # the old failure is not news
    store.write_status("s", ids[0], "running", starts=1)
    progress.poll()
    now[0] += 120
    atomic_write_json(
        store.run_dir("s", ids[0]) / "record.json",
        {"run_id": ids[0], "spec": specs[0].to_dict(), "metrics": {"top1": 41.5}},
    )
    store.write_status("s", ids[0], "done")
    store.write_status(
        "s", ids[1], "failed", error="CUDA out of memory", starts=1
    )  # failed before it was seen running
    progress.poll()
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        f"[1/4] start s/{ids[0]} (seed 0)",
        f"[1/4] done s/{ids[0]} in 2:00: top-1 41.50 "
        "· run 1/4 · 1 done · 0 failed · ETA 6:00",  # 3 left, 2 min each
        f"[2/4] start s/{ids[1]} (seed 1)",
        f"[2/4] failed s/{ids[1]} in 0:00: CUDA out of "
        "memory · run 2/4 · 1 done · 1 failed · ETA 2:00",
    ]


def test_clock() -> None:
    assert (clock(65), clock(3725), clock(0.4)) == ("1:05", "1:02:05", "0:00")


def test_run_bars_join_the_suite_display_and_leave_it() -> None:
    from omnibench.engine.progress import ProgressReporter, shared_display

    with shared_display() as display:
        display.add_task("suite", total=2, status="")
        with ProgressReporter(rich=True) as reporter:
            reporter.start("epoch 1/2", total=4)
            assert reporter.bar is display and len(display.tasks) == 2
        assert [task.description for task in display.tasks] == [
            "suite"
        ]  # the run's bar is gone, the display stays
    with ProgressReporter(rich=True) as alone:
        assert (
            alone.bar is not None and alone.bar is not display
        )  # outside a suite: its own display
