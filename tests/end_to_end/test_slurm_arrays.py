"""Against the local Slurm cluster with a small ``MaxArraySize`` and a ``MaxSubmitJobs`` limit on
this user's association: the runs of one `omnibench run` go out as several job arrays, each after
the one before, never more than the limit at once, every run ends done, and a rerun submits
nothing.

The cluster is reconfigured (``slurm/local-cluster.sh reconfigure``) for the test and set back
after it. By default the arrays are small (5 runs, at most 2 tasks per array, at most 3 queued)
because every task is a Python process that imports torch; the splitting does not depend on the
sizes. ``OMNIBENCH_TEST_SLURM_ARRAYS=RUNS,MAX_ARRAY_SIZE,MAX_SUBMIT`` runs it at another size
(``120,50,100``: three arrays, about 35 minutes on 2 cores at load 9).
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import tiny_suite_text
from tests.end_to_end.test_slurm import (
    CLASSES,
    LOCAL_CONF,
    REPO,
    _slurm_env,
    finish,
    omnibench,
    run_args,
    status_rows,
    wait_until,
)

SCRIPT = REPO / "slurm" / "local-cluster.sh"
RUNS, MAX_ARRAY_SIZE, MAX_SUBMIT = (
    int(n) for n in os.environ.get("OMNIBENCH_TEST_SLURM_ARRAYS", "5,2,3").split(",")
)
TASK_S = 30  # what one tiny task may take at most, on a loaded machine
SCHEDULE_S = 10  # the scheduler's pause between a task's end and the next one's start (5-10 s)
SUITE = tiny_suite_text(
    "arrays",
    description="tiny frozen-CLIP evaluations, more than one job array holds",
    title="Arrays",
    columns="dataset",
    base=["limit: 1"],
    tail=f"seeds: {list(range(RUNS))}\ngrid:\n  model.name: [vanilla_clip]\n",
)


def _local_cluster_answers() -> bool:
    """Whether the answering cluster is the one of slurm/local-cluster.sh (the test reconfigures
    it)."""
    conf = _slurm_env().get("SLURM_CONF")
    return (
        conf is not None
        and Path(conf).resolve() == LOCAL_CONF.resolve()
        and subprocess.run(
            ["bash", str(SCRIPT), "status"], capture_output=True, check=False
        ).returncode
        == 0
    )


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not _local_cluster_answers(),
        reason="needs the cluster of slurm/local-cluster.sh (start it; SLURM_CONF names it)",
    ),
]


def _reconfigure(**env: str) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "reconfigure"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _max_submit(limit: int) -> None:
    """Set MaxSubmitJobs of this user's associations (-1: none)."""
    done = subprocess.run(
        [
            "sacctmgr",
            "-i",
            "modify",
            "user",
            "where",
            f"name={getpass.getuser()}",
            "set",
            f"MaxSubmitJobs={limit}",
        ],
        env=_slurm_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def small_limits() -> Iterator[None]:
    """The local cluster with small limits for the test, Slurm's defaults again after it."""
    _reconfigure(
        OMNIBENCH_SLURM_MAX_ARRAY_SIZE=str(MAX_ARRAY_SIZE), OMNIBENCH_SLURM_ENFORCE_LIMITS="1"
    )
    try:
        _max_submit(MAX_SUBMIT)
        too_large = subprocess.run(  # the cluster itself holds to the limit
            ["sbatch", "--hold", f"--array=0-{MAX_ARRAY_SIZE}", "--wrap", "true"],
            env=_slurm_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Invalid job array specification" in too_large.stderr, too_large
        yield
    finally:
        _max_submit(-1)
        _reconfigure(OMNIBENCH_SLURM_MAX_ARRAY_SIZE="1001", OMNIBENCH_SLURM_ENFORCE_LIMITS="0")


def _accounting(arrays: list[str]) -> list[list[str]]:
    """``sacct`` lines (job id, start, end, state) of every task of ``arrays``."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "--format=JobID,Start,End,State", "-j", ",".join(arrays)],
        env=_slurm_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def _completed(arrays: list[str]) -> list[list[str]] | None:
    tasks = _accounting(arrays)
    return tasks if {state for *_, state in tasks} == {"COMPLETED"} else None


def _first_wave(arrays: list[str]) -> str:
    """The line the first submission says (a pattern): as many runs as MaxSubmitJobs lets out, in
    arrays of at most MaxArraySize tasks, and how many wait."""
    count = min(RUNS, MAX_SUBMIT)
    sizes = [min(MAX_ARRAY_SIZE, count - start) for start in range(0, count, MAX_ARRAY_SIZE)]
    shown = ", ".join(rf"{array} \({size}\)" for array, size in zip(arrays, sizes))
    line = f"submitted {count}{f' of {RUNS}' if count < RUNS else ''} runs as "
    if len(sizes) == 1:
        line += f"job array {shown}"
    else:
        line += (
            rf"{len(sizes)} job arrays of at most {MAX_ARRAY_SIZE} tasks \(MaxArraySize\), "
            f"each after the one before: {shown}"
        )
    line += "; at most 2 tasks at once"
    if count < RUNS:
        line += (
            f"; the other {RUNS - count} go out as the queue empties "
            rf"\(MaxSubmitJobs of association \S+/{getpass.getuser()} is {MAX_SUBMIT}\)"
        )
    return line


def test_runs_beyond_the_cluster_limits_go_out_as_arrays_one_after_another(
    tmp_path: Path, small_limits: None
) -> None:
    from omnibench.data import SynthConfig, generate_synthetic

    data = tmp_path / "data"
    generate_synthetic(
        data / "synthetic", SynthConfig(classes=CLASSES, videos_per_class=6, frames=8, size=32)
    )
    suite, results = tmp_path / "arrays.yaml", tmp_path / "results"
    suite.write_text(SUITE)
    running = omnibench(*run_args(str(suite), results, data), background=True)
    code, out = finish(
        running,  # type: ignore[arg-type]
        timeout=180 + RUNS * (TASK_S + SCHEDULE_S) / 2,
    )
    assert code == 0, out

    rows = status_rows("arrays", results)
    assert len(rows) == RUNS and {row["state"] for row in rows} == {"done"}, rows
    arrays = list(dict.fromkeys(row["job_id"].split("_")[0] for row in rows))
    said = [line for line in out.splitlines() if line.startswith("submitted")]
    assert re.fullmatch(_first_wave(arrays), said[0]), out
    later = [int(re.match(r"submitted (\d+) ", line)[1]) for line in said[1:]]  # type: ignore[index]
    assert sum(later) == max(0, RUNS - MAX_SUBMIT), said  # as the first tasks ended
    rest = RUNS - MAX_SUBMIT
    for sent in later:  # a whole array at a time, not a trickle of small ones
        assert sent >= min(MAX_ARRAY_SIZE, rest), said
        rest -= sent
    # a task's run is recorded a moment before Slurm accounts its job as ended
    tasks = wait_until(lambda: _completed(arrays), 120, "every task COMPLETED in sacct")
    assert len(tasks) == RUNS, tasks
    for array in arrays:
        assert sum(job.split("_")[0] == array for job, *_ in tasks) <= MAX_ARRAY_SIZE, tasks
    for before, after in zip(arrays, arrays[1:]):  # an array starts once the one before ended
        ended = max(end for job, _, end, _ in tasks if job.split("_")[0] == before)
        started = min(start for job, start, _, _ in tasks if job.split("_")[0] == after)
        assert started >= ended, tasks
    for _, start, _, _ in tasks:  # array_parallelism across the arrays (ISO times sort as text)
        assert sum(s <= start < e for _, s, e, _ in tasks) <= 2, tasks

    again = omnibench(*run_args(str(suite), results, data))
    assert again.returncode == 0 and "nothing to execute" in again.stdout, again.stdout
    assert "submitted" not in again.stdout
    assert len(_accounting(arrays)) == RUNS
