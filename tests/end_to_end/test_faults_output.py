"""Where output goes on a cluster: a full disk or quota, a pipe whose reader went away, a log file.

Each fault is real: a small tmpfs as ``--results`` (root mounts one; elsewhere the tests skip and
say why), ``omnibench run`` as a separate process whose stdout reader closes the pipe, output
redirected to a file at 80 columns.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from omnibench.store.run_store import RunStore
from omnibench.suite.load import load_suite
from tests.conftest import cpu_options, write_tiny_suite


def omnibench(*args: str, columns: int = 250, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": str(columns), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "omnibench", *args], text=True, env=env, **popen
    )


def finished(*args: str, columns: int = 250) -> tuple[int, str]:
    """``omnibench ARGS`` to its end: (exit code, stdout and stderr)."""
    proc = omnibench(*args, columns=columns, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs (four pages: two spec.json files, suite.json and one more file fit)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a full disk) needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def resize(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def test_a_full_disk_is_named_and_the_runs_resume_once_there_is_space(
    small_disk: Path, small_data_root: Path, tmp_path: Path
) -> None:
    suite = write_tiny_suite(tmp_path, "full", [1, 2])
    results = ["--results", str(small_disk / "r")]
    code, out = finished("run", str(suite), *results, *cpu_options(small_data_root))
    assert code == 2 and "Traceback" not in out, out
    assert re.search(
        rf"error: no space left on {small_disk} while writing {small_disk}/r/full/\w+/\w+\.json; "
        "free space \\(or raise the quota\\) and run again: interrupted runs resume",
        " ".join(out.split()),
    ), out
    code, out = finished("status", str(suite), *results, "--json")
    assert [row["state"] for row in json.loads(out)] == ["new", "new"]  # true: neither ran
    code, out = finished("run", str(suite), *results, *cpu_options(small_data_root), "-e", "local")
    assert code == 2 and "Traceback" not in out and f"no space left on {small_disk}" in out, out
    resize(small_disk, "64m")
    code, out = finished("run", str(suite), *results, *cpu_options(small_data_root))
    assert code == 0 and "2 done" in out, out


def test_a_full_disk_during_a_checkpoint_names_it_and_the_run_resumes(
    small_disk: Path, small_data_root: Path, tmp_path: Path
) -> None:
    resize(small_disk, "400k")  # the run's small files fit, its ~1 MB checkpoint does not
    suite = write_tiny_suite(tmp_path, "ckpt", [1], trains=True)
    results = ["--results", str(small_disk / "r")]
    code, out = finished("run", str(suite), *results, *cpu_options(small_data_root), "--limit", "2")
    run_id = load_suite(suite, {"limit": (2, "--limit 2")}).specs[0].run_id()
    checkpoint = small_disk / "r" / "ckpt" / run_id / "checkpoint.pt"
    line = f"no space left on {small_disk} while writing {checkpoint}"
    assert code == 2 and "Traceback" not in out and "unexpected pos" not in out, out
    assert f"error: {line}" in " ".join(out.split())
    status = RunStore(small_disk / "r").read_status("ckpt", run_id)
    assert status.state == "failed" and status.error.startswith(line)
    assert not checkpoint.exists() and not list(checkpoint.parent.glob(".*.tmp"))  # no half file
    resize(small_disk, "64m")
    code, out = finished("run", str(suite), *results, *cpu_options(small_data_root), "--limit", "2")
    assert code == 0 and "1 done" in out, out


def test_torch_save_on_a_full_disk_names_the_disk_and_the_file(small_disk: Path) -> None:
    import torch

    from omnibench.engine.checkpoint import atomic_save
    from omnibench.errors import NoSpaceError

    target = small_disk / "weights.pt"
    with pytest.raises(NoSpaceError) as caught:
        atomic_save({"w": torch.zeros(100_000)}, target)
    assert str(caught.value).startswith(f"no space left on {small_disk} while writing {target};")
    assert os.listdir(small_disk) == []  # the temporary file is gone too


def test_a_closed_output_pipe_neither_kills_nor_orphans_runs(
    small_data_root: Path, tmp_path: Path
) -> None:
    """``omnibench run SUITE | head -2``: the reader goes after two lines; every run still ends
    done, with its whole log, and the command exits as its runs say."""
    suite = write_tiny_suite(tmp_path, "piped", [1, 2, 3])
    store = RunStore(tmp_path / "r")
    proc = omnibench(
        "run",
        str(suite),
        "--results",
        str(store.root),
        *cpu_options(small_data_root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(2)]
    proc.stdout.close()  # what `head -2` does after two lines
    assert proc.wait(timeout=600) == 0 and all(first)
    for spec in load_suite(suite).specs:
        status = store.read_status("piped", spec.run_id())
        assert status is not None and status.state == "done", status
        assert "top-1" in store.log_path("piped", spec.run_id()).read_text()
    assert not list(store.root.rglob("lock.json"))


def test_output_in_a_file_reads_top_to_bottom_at_80_columns(
    small_data_root: Path, tmp_path: Path
) -> None:
    """As under Slurm or nohup: each run's progress lines in order, tables whole at 80 columns."""
    suite = write_tiny_suite(tmp_path, "filed", [1, 2])
    results = ["--results", str(tmp_path / "r")]
    with open(tmp_path / "out.txt", "w") as sink:
        proc = omnibench(
            "run",
            str(suite),
            *results,
            *cpu_options(small_data_root),
            columns=80,
            stdout=sink,
            stderr=sink,
        )
        assert proc.wait(timeout=600) == 0
    lines = (tmp_path / "out.txt").read_text().splitlines()
    ids = [spec.run_id() for spec in load_suite(suite).specs]
    marks = [
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in (
            f"[1/2] start filed/{ids[0]}",
            f"omnibench: run filed/{ids[0]} start #1",
            f"[1/2] done filed/{ids[0]}",
            f"[2/2] start filed/{ids[1]}",
            f"omnibench: run filed/{ids[1]} start #1",
            f"[2/2] done filed/{ids[1]}",
        )
    ]
    assert marks == sorted(marks), lines
    table = lines[lines.index(next(line for line in lines if line.startswith("filed: 2 runs"))) :]
    assert "…" not in "\n".join(table) and all(len(line) <= 80 for line in table[:5])


def test_run_tables_and_report_notes_are_never_cut_in_a_file() -> None:
    """The dry run's widest columns (state, action) and the summary's at 80 columns, and a report
    note of 200 characters, printed into a file."""
    from omnibench.cli import run_tables
    from omnibench.execution.plan import PlannedRun
    from omnibench.report.render import print_tables
    from omnibench.report.tables import ReportTable

    suite = load_suite("demo")
    states = ["new", "corrupt", "running", "failed", "dead", "stale", "done"] * 2
    actions = ["resume", "corrupt", "held", "rerun", "resume", "rerun", "skip"] * 2
    plans = [
        PlannedRun(spec, spec.run_id(), state, action, reason="annotation file(s) changed")
        for spec, state, action in zip(suite.specs, states, actions)
    ]
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    run_tables.print_table(console, run_tables.plan_table(suite, plans, "demo (dry run)"))
    text = out.getvalue()
    assert "…" not in text and "resume from checkpoint" in text
    assert "rerun (annotation file(s) changed)" in text and "skip (corrupt: see below)" in text

    note = "omnibench: " + "a note that a reader of the log wants on one line " * 4
    table = ReportTable("demo", "t", "Title", "grid", 1, (), [], [], [note.strip()], ["0 runs"])
    out = io.StringIO()
    print_tables([table], Console(file=out, width=80, force_terminal=False))
    assert note.strip() in out.getvalue().splitlines()


def test_output_to_a_full_device_is_said_not_lost_in_silence(tmp_path: Path) -> None:
    """``omnibench status --json > out.json`` on a full disk: exit 2 and a line on stderr, never
    exit 0 with nothing written (a closed pipe, by contrast, is quietly dropped)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    (tmp_path / "r").mkdir()
    with open("/dev/full", "w") as full:
        proc = omnibench(
            "ls",
            "runs",
            "--json",
            "--results",
            str(tmp_path / "r"),
            stdout=full,
            stderr=subprocess.PIPE,
        )
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "error: output lost: no space left on device" in err
