"""Run store: layout, status transitions, atomic writes, root resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.config.spec import RunSpec
from omnibench.errors import OmniBenchError
from omnibench.store.run_store import RunStore, atomic_write_json, create_exclusive, results_root


def _spec(**changes: object) -> RunSpec:
    return RunSpec.from_dict({"protocol": "few_shot", "dataset": "synthetic", **changes})


def test_results_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OMNIBENCH_RESULTS", raising=False)
    assert results_root() == Path("results")
    monkeypatch.setenv("OMNIBENCH_RESULTS", str(tmp_path / "env"))
    assert results_root() == tmp_path / "env"
    assert results_root(tmp_path / "flag") == tmp_path / "flag"
    assert RunStore().root == tmp_path / "env"


def test_prepare_writes_the_spec_and_no_status(tmp_path: Path) -> None:
    store, spec = RunStore(tmp_path), _spec()
    run_dir = store.prepare("demo", spec)
    assert run_dir == tmp_path / "demo" / spec.run_id()
    assert json.loads((run_dir / "spec.json").read_text()) == spec.to_dict()
    assert store.read_status("demo", spec.run_id()) is None  # new until queued or started
    status = store.write_status("demo", spec.run_id(), "running", job_id="17_3")
    assert status.log == "log.txt" and status.updated  # relative: a moved store keeps its logs
    store.prepare("demo", spec)  # idempotent: keeps the newer status
    assert store.read_status("demo", spec.run_id()).state == "running"


def test_prepare_refuses_a_directory_holding_another_spec(tmp_path: Path) -> None:
    store, spec = RunStore(tmp_path), _spec()
    run_dir = store.prepare("demo", spec)
    atomic_write_json(run_dir / "spec.json", _spec(seed=1).to_dict())
    with pytest.raises(OmniBenchError, match="different spec"):
        store.prepare("demo", spec)


def test_status_transitions_keep_job_and_log_and_reset_error(tmp_path: Path) -> None:
    store, run_id = RunStore(tmp_path), _spec().run_id()
    store.prepare("s", _spec())
    store.write_status("s", run_id, "running", job_id="4242_0", host="node1")
    failed = store.write_status(
        "s", run_id, "failed", error="Traceback (most recent call last):\n  x\nValueError: boom"
    )
    assert (failed.state, failed.job_id, failed.error) == ("failed", "4242_0", "ValueError: boom")
    assert failed.extra == {"host": "node1"}
    again = store.write_status("s", run_id, "running", job_id="4243_0")
    assert (again.error, again.job_id) == (None, "4243_0")
    done = store.write_status("s", run_id, "done")
    assert done.state == "done" and done.log == "log.txt"
    with pytest.raises(ValueError, match="unknown run state"):
        store.write_status("s", run_id, "finished")


def test_read_status_of_unknown_and_corrupt_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.read_status("s", "nope") is None
    run_dir = store.prepare("s", _spec())
    (run_dir / "status.json").write_text('{"state": "runn')
    with pytest.raises(OmniBenchError, match="not valid JSON"):
        store.read_status("s", _spec().run_id())
    (run_dir / "status.json").write_text('{"state": "sleeping"}')
    with pytest.raises(OmniBenchError, match="no valid 'state'"):
        store.read_status("s", _spec().run_id())


def test_done_means_the_record_exists(tmp_path: Path) -> None:
    store, run_id = RunStore(tmp_path), _spec().run_id()
    run_dir = store.prepare("s", _spec())
    assert not store.is_done("s", run_id) and store.read_record("s", run_id) is None
    atomic_write_json(run_dir / "record.json", {"run_id": run_id, "metrics": {"top1": 50.0}})
    assert store.is_done("s", run_id)
    assert store.read_record("s", run_id)["metrics"] == {"top1": 50.0}


def test_clear_and_iter_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = sorted(store.prepare("b", _spec(seed=s)).name for s in range(3))
    store.prepare("a", _spec())
    (tmp_path / "b" / "not-a-run").mkdir()
    assert [(r.suite, r.run_id) for r in store.iter_runs()] == [("a", _spec().run_id())] + [
        ("b", i) for i in ids
    ]
    store.clear("b", ids[0])
    store.clear("b", "missing")  # nothing to do
    assert [r.run_id for r in store.iter_runs("b")] == ids[1:]
    assert store.suites() == ["a", "b"] and list(store.iter_runs("zzz")) == []
    assert not any(p.name.startswith(".") for p in (tmp_path / "b").iterdir())


def test_atomic_helpers_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "x" / "f.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert create_exclusive(tmp_path / "x" / "once.txt", "first")
    assert not create_exclusive(tmp_path / "x" / "once.txt", "second")
    assert (tmp_path / "x" / "once.txt").read_text() == "first"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["f.json", "once.txt"]
