"""Every Slurm client command omnibench runs itself (submitit runs ``sbatch`` and ``sacct``).

One place for the tools a feature needs, ``scontrol release``, ``scancel`` and ``squeue``, each
with a timeout and its failure as one line.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Sequence

from omnibench.errors import OmniBenchError

SUBMIT_TOOLS = ("sbatch", "sacct", "scontrol")  # what submitting and following a job array needs
CANCEL_TOOLS = ("squeue", "scancel")  # what `omnibench cancel` needs for Slurm jobs
TIMEOUT_S = 60


def missing_tool(tools: Sequence[str]) -> str | None:
    """The first of ``tools`` that is not on PATH, or None."""
    return next((tool for tool in tools if shutil.which(tool) is None), None)


def run_command(*command: str) -> None:
    """Run a Slurm client command; its failure raises one line with Slurm's own message."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise OmniBenchError(
            f"{' '.join(command)} failed: {result.stderr.strip() or result.returncode}"
        )


def release(array: str) -> None:
    """Release a held job array."""
    run_command("scontrol", "release", array)


def scancel(job_ids: Sequence[str]) -> None:
    """Cancel jobs (array ids cancel every task)."""
    run_command("scancel", *job_ids)


def _squeue(selection: str) -> subprocess.CompletedProcess[str] | None:
    """``squeue`` listing the job ids of ``selection`` (a task per line); None if it cannot run."""
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    command = [squeue, "--noheader", "--array", "--format=%i", selection]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S / 2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None


def live_jobs(job_ids: Sequence[str]) -> set[str]:
    """Those of ``job_ids`` that Slurm still has queued or running (empty without ``squeue``)."""
    result = _squeue(f"--user={getpass.getuser()}")
    if result is None or result.returncode != 0:
        return set()
    alive = set(result.stdout.split())
    return {job for job in job_ids if job in alive}


def job_ended(job_id: str) -> bool:
    """True when Slurm provably no longer has ``job_id`` (``squeue`` answers without it)."""
    result = _squeue(f"--jobs={job_id}")
    if result is None:
        return False
    if result.returncode == 0:
        return job_id not in result.stdout.split()
    return "invalid job id" in result.stderr.lower()


def jobs_ended(job_ids: Sequence[str]) -> set[str]:
    """Those of ``job_ids`` that Slurm provably no longer has, asked in one ``squeue`` call (one
    per job only where Slurm refuses the list, e.g. for an id it has forgotten)."""
    if not job_ids:
        return set()
    result = _squeue(f"--jobs={','.join(sorted(set(job_ids)))}")
    if result is None:
        return set()
    if result.returncode == 0:
        return set(job_ids) - set(result.stdout.split())
    return {job for job in job_ids if job_ended(job)}
