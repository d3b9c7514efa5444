"""Faults across processes, on real tiny runs: two invocations on one store, SIGTERM, Ctrl-C,
kill -9, cancel, a refused Slurm submission, logging from the second run on, logs of runs at a
terminal.

Every `omnibench` here is a separate process started like a user would (its own session, Ctrl-C
reaching its whole process group); the store is then read back as `status` and the next `run` see
it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.data import MOTIONS, SynthConfig, generate_synthetic
from omnibench.store.claim import read_holder
from omnibench.store.run_files import CACHE_FILES, INDEX_FILE
from omnibench.store.run_store import RunStore
from omnibench.suite.load import load_suite
from tests.conftest import UNDECODABLE_MP4, TinyData, cpu_options, write_tiny_suite

EVAL_SUITE = """\
name: evals
description: evaluation only, on a split holding a broken video
table: {paper_table: null, title: evals, layout: grid, rows: [model.name], columns: [seed], \
metrics: [top1]}
base:
  protocol: eval_only
  dataset: synthetic
  model: {name: vanilla_clip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  protocol_options: {splits: [train]}
grid:
  seed: [1, 2]
"""


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data()


def write_suite(directory: Path, name: str, epochs: int, seeds: list[int]) -> Path:
    return write_tiny_suite(directory, name, seeds, trains=True, epochs=epochs)


def spawn(*args: str, out: Path) -> subprocess.Popen[bytes]:
    """`omnibench ARGS` in its own session, SIGINT handled as at a terminal, output to ``out``."""
    env = {**os.environ, "COLUMNS": "250", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(out, "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "omnibench", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def wait_for(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def training(store: RunStore, suite: str, run_id: str, start: int) -> Callable[[], bool]:
    """True once start number ``start`` of the run has finished an epoch (a checkpoint exists)."""

    def check() -> bool:
        status = store.read_status(suite, run_id)
        if status is None or status.state != "running" or status.extra.get("starts") != start:
            return False
        since_start = store.log_path(suite, run_id).read_text().split(f"start #{start} ")[-1]
        return re.search(r"epoch \d+/\d+ loss", since_start) is not None

    return check


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def json_states(capsys: pytest.CaptureFixture[str], suite: Path, store: RunStore) -> dict[str, str]:
    code, out = cli(capsys, "status", str(suite), "--results", str(store.root), "--json")
    assert code == 0, out
    return {row["run_id"]: row["state"] for row in json.loads(out)}


def test_two_invocations_on_one_store_execute_each_run_exactly_once(
    tmp_path: Path, data_root: Path
) -> None:
    suite_file = write_suite(tmp_path, "pair", epochs=1, seeds=[1, 2, 3])
    store, ids = RunStore(tmp_path / "results"), [s.run_id() for s in load_suite(suite_file).specs]
    index = store.suite_dir("pair") / INDEX_FILE  # a corrupt index: rebuilt, never believed
    index.parent.mkdir(parents=True)
    index.write_text('{"format": 1, "runs": {')
    common = ["--results", str(store.root), *cpu_options(data_root)]
    procs = [spawn("run", str(suite_file), *common, out=tmp_path / f"out{i}.txt") for i in range(2)]
    codes = [proc.wait(600) for proc in procs]
    outputs = [(tmp_path / f"out{i}.txt").read_text() for i in range(2)]
    assert codes == [0, 0], outputs
    for run_id in ids:
        status, record = store.read_status("pair", run_id), store.read_record("pair", run_id)
        assert (status.state, status.extra["starts"]) == ("done", 1), run_id
        assert record["run_id"] == run_id and 0 <= record["metrics"]["top1"] <= 100
        log = store.log_path("pair", run_id).read_text()
        assert (
            log.count("omnibench: run pair/") == 1 and log.count("synthetic/test1: top-1") == 1
        )  # not interleaved
        assert read_holder(store.run_dir("pair", run_id)) is None
    caches = set(CACHE_FILES)
    leftovers = [
        p for p in store.root.rglob(".*") if ".submitit" not in p.parts and p.name not in caches
    ]
    assert leftovers == [], "temporary files left behind"
    assert all("Traceback" not in out for out in outputs)

    time.sleep(2.5)  # the records are old enough for the index to keep (store_index.RECENT_S)
    again = [
        spawn("run", str(suite_file), *common, out=tmp_path / f"again{i}.txt") for i in range(2)
    ]
    assert [proc.wait(120) for proc in again] == [0, 0]
    for i in range(2):
        assert "nothing to execute" in (tmp_path / f"again{i}.txt").read_text()
    assert sorted(json.loads(index.read_text())["runs"]) == sorted(ids)  # written whole
    assert all(store.read_status("pair", run_id).extra["starts"] == 1 for run_id in ids)


def test_sigterm_ctrl_c_kill_and_cancel_of_inline_runs_leave_true_states(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = write_suite(tmp_path, "slow", epochs=5000, seeds=[1, 2])
    store = RunStore(tmp_path / "results")
    first, second = (s.run_id() for s in load_suite(suite_file).specs)
    args = ["run", str(suite_file), "--results", str(store.root), *cpu_options(data_root)]
    out = tmp_path / "out.txt"

    proc = spawn(*args, out=out)  # 1. SIGTERM: the run records it, the next run never starts
    wait_for(training(store, "slow", first, start=1))
    assert json_states(capsys, suite_file, store) == {first: "running", second: "new"}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == 143
    status = store.read_status("slow", first)
    assert (status.state, status.error) == ("failed", "terminated (SIGTERM); rerun to resume")
    assert (
        store.read_status("slow", second) is None
        and read_holder(store.run_dir("slow", first)) is None
    )
    assert "Traceback" not in out.read_text() and "1 new · 1 failed" in out.read_text()

    proc = spawn(*args, out=out)  # 2. Ctrl-C at a terminal reaches the whole process group
    wait_for(training(store, "slow", first, start=2))
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(120) == 130
    assert store.read_status("slow", first).error == "interrupted (Ctrl-C); rerun to resume"

    proc = spawn(*args, out=out)  # 3. kill -9: status tells the dead process from a live one
    wait_for(training(store, "slow", first, start=3))
    proc.kill()
    proc.wait(60)
    assert json_states(capsys, suite_file, store)[first] == "dead"
    code, text = cli(capsys, "run", str(suite_file), "--results", str(store.root), "--dry-run")
    assert code == 0 and "resume from checkpoint" in text
    code, text = cli(capsys, "cancel", str(suite_file), "--results", str(store.root))
    assert code == 0 and f"marked 1 dead run failed (their process is gone): {first}" in text
    assert "ended without recording an end" in store.read_status("slow", first).error

    proc = spawn(*args, out=out)  # 4. cancel stops a live local process
    wait_for(training(store, "slow", first, start=4))
    code, text = cli(capsys, "cancel", str(suite_file), "--results", str(store.root))
    assert code == 0 and f"stopped 1 run of 'slow': pid {proc.pid} on" in text, text
    assert proc.wait(60) == 143
    status = store.read_status("slow", first)
    assert status.state == "failed" and status.error.startswith(
        f"cancelled (SIGTERM to pid {proc.pid} on "
    )
    assert json_states(capsys, suite_file, store) == {first: "failed", second: "new"}


def test_ctrl_c_of_a_local_launch_stops_its_jobs_quietly(tmp_path: Path, data_root: Path) -> None:
    suite_file = write_suite(tmp_path, "local", epochs=5000, seeds=[1, 2])
    store = RunStore(tmp_path / "results")
    first, second = (s.run_id() for s in load_suite(suite_file).specs)
    out = tmp_path / "out.txt"
    proc = spawn(
        "run",
        str(suite_file),
        "--results",
        str(store.root),
        *cpu_options(data_root),
        "--executor",
        "local",
        "--max-parallel",
        "1",
        out=out,
    )
    wait_for(training(store, "local", first, start=1))
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group
    assert proc.wait(120) == 130
    text = out.read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    status = store.read_status("local", first)
    assert status.state == "failed" and status.error.endswith("rerun to resume")
    assert store.read_status("local", second) is None  # never started: still new
    wait_for(lambda: _group_gone(proc.pid), timeout=30)  # no job process outlives the launch


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_refused_slurm_submission_leaves_no_run_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(
        "#!/bin/sh\necho 'sbatch: error: invalid partition specified: debug' >&2\nexit 1\n"
    )
    for tool in ("sacct", "scontrol", "squeue", "srun"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    suite_file = write_suite(tmp_path, "queued", epochs=1, seeds=[1, 2])
    store = RunStore(tmp_path / "results")
    code, out = cli(
        capsys,
        "run",
        str(suite_file),
        "--results",
        str(store.root),
        "--executor",
        "slurm",
        "--profile",
        "local",
    )
    assert (
        code == 2
        and "sbatch refused the job array (profile local): invalid partition specified: debug"
        in out
    )
    assert set(json_states(capsys, suite_file, store).values()) == {"new"}


def test_logging_from_the_second_inline_run_on_goes_to_each_runs_log(tmp_path: Path) -> None:
    root = tmp_path / "data"
    generate_synthetic(
        root / "synthetic",
        SynthConfig(classes=tuple(MOTIONS)[:3], videos_per_class=6, frames=8, size=32),
    )
    broken = root / "synthetic" / (root / "synthetic" / "train.txt").read_text().split()[0]
    broken.write_bytes(UNDECODABLE_MP4)  # opens; found when decoded
    suite_file = tmp_path / "evals.yaml"
    suite_file.write_text(EVAL_SUITE)
    store, out = RunStore(tmp_path / "results"), tmp_path / "out.txt"
    proc = spawn(
        "run",
        str(suite_file),
        "--results",
        str(store.root),
        *cpu_options(root),
        out=out,
    )  # output to a file: not a terminal
    proc.wait(600)
    text = out.read_text()
    assert "Logging error" not in text and "I/O operation on closed file" not in text, text
    assert text.count("skipping broken video") == 2
    for spec in load_suite(suite_file).specs:
        assert (
            store.log_path("evals", spec.run_id())
            .read_text()
            .count(f"skipping broken video {broken}")
            == 1
        )


def test_the_log_of_an_inline_run_at_a_terminal_is_written(tmp_path: Path, data_root: Path) -> None:
    suite_file = write_suite(tmp_path, "tty", epochs=1, seeds=[1])
    store, [spec] = RunStore(tmp_path / "results"), load_suite(suite_file).specs
    primary, secondary = pty.openpty()
    received: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(primary, received), daemon=True)
    reader.start()
    env = {**os.environ, "COLUMNS": "120", "HF_HUB_OFFLINE": "1", "TERM": "xterm"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnibench",
            "run",
            str(suite_file),
            "--results",
            str(store.root),
            *cpu_options(data_root),
        ],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    assert proc.wait(600) == 0
    reader.join(10)
    terminal = b"".join(received).decode(errors="replace")
    log = store.log_path("tty", spec.run_id()).read_text()
    assert (
        f"run tty/{spec.run_id()} start #1" in log
        and "epoch 1/1" in log
        and "synthetic/test1: top-1" in log
    )
    assert "\x1b[" not in log  # the bar stays on the terminal
    assert "synthetic/test1: top-1" in terminal and "1 done" in terminal


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.append(chunk)
