"""Every Slurm client command omnibench runs itself (submitit runs ``sbatch`` and ``sacct``).

One place for the tools a feature needs, ``scontrol release``, ``scancel`` and ``squeue``, each
with a timeout and its failure as one line.
"""

from __future__ import annotations

import dataclasses
import getpass
import shutil
import subprocess
from collections.abc import Sequence

from omnibench.errors import OmniBenchError

SUBMIT_TOOLS = ("sbatch", "sacct", "scontrol")  # what submitting and following a job array needs
CANCEL_TOOLS = ("squeue", "scancel")  # what `omnibench cancel` needs for Slurm jobs
TIMEOUT_S = 60
DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's default MaxArraySize (array indices 0..1000)


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


@dataclasses.dataclass(frozen=True)
class SubmitLimits:
    """What the cluster lets this user submit: tasks per job array (``MaxArraySize``: indices run
    from 0 to the size minus one), and jobs pending or running at once (``MaxSubmitJobs`` of the
    user's association or QOS, where Slurm enforces them; every array task counts)."""

    max_array_size: int = DEFAULT_MAX_ARRAY_SIZE
    max_submit: int | None = None
    max_submit_source: str = ""  # e.g. "MaxSubmitJobs of association omnibench/root"

    def room(self) -> int | None:
        """How many more jobs may be submitted now (None: no limit)."""
        if self.max_submit is None:
            return None
        return max(0, self.max_submit - queued_jobs())


def _query(*command: str) -> str | None:
    """A query's output; None when the tool is missing or fails (the limit is then unknown)."""
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def cluster_config() -> dict[str, str]:
    """``scontrol show config`` as key -> value (empty when it cannot be read)."""
    out = _query("scontrol", "show", "config") or ""
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def submit_limits(account: str | None = None, qos: str | None = None) -> SubmitLimits:
    """The limits that apply to jobs of this user (``account`` / ``qos``: the profile's; None: the
    association's own)."""
    config = cluster_config()
    size = _number(config.get("MaxArraySize"))
    enforced = "limits" in config.get("AccountingStorageEnforce", "").lower()
    found = _association_limits(account, qos) if enforced else []
    strictest = min(found, default=None)
    return SubmitLimits(
        DEFAULT_MAX_ARRAY_SIZE if size is None else size,
        strictest[0] if strictest else None,
        strictest[1] if strictest else "",
    )


def _association_limits(account: str | None, qos: str | None) -> list[tuple[int, str]]:
    """``(MaxSubmitJobs, where it is set)`` of the user's associations (those of ``account``) and
    of the QOS they may use (``qos``), as far as ``sacctmgr`` shows them."""
    user = getpass.getuser()
    found, names = [], set()
    for owner, max_submit, qos_list in _sacctmgr(
        "assoc", "where", f"user={user}", fields=("Account", "MaxSubmit", "QOS")
    ):
        if account is not None and owner != account:
            continue
        if (limit := _number(max_submit)) is not None:
            found.append((limit, f"MaxSubmitJobs of association {owner}/{user}"))
        names |= {qos} if qos else set(filter(None, qos_list.split(",")))
    for name, per_user in _sacctmgr("qos", fields=("Name", "MaxSubmitPU")):
        if name in names and (limit := _number(per_user)) is not None:
            found.append((limit, f"MaxSubmitJobsPerUser of QOS {name}"))
    return found


def _sacctmgr(entity: str, *where: str, fields: tuple[str, ...]) -> list[list[str]]:
    """``sacctmgr show ENTITY [where ...]``'s rows of ``fields`` (none when it cannot tell)."""
    out = _query("sacctmgr", "-n", "-P", "show", entity, *where, f"format={','.join(fields)}")
    rows = [line.split("|") for line in (out or "").splitlines() if line.strip()]
    return [row for row in rows if len(row) == len(fields)]


def queued_jobs() -> int:
    """This user's jobs pending or running, each array task counted (0 when squeue cannot tell)."""
    result = _squeue(f"--user={getpass.getuser()}")
    if result is None or result.returncode != 0:
        return 0
    return len(result.stdout.split())


def array_queued(array: str) -> bool:
    """Whether any task of job array ``array`` is still pending or running."""
    result = _squeue(f"--user={getpass.getuser()}")
    if result is None or result.returncode != 0:
        return False
    return any(job.split("_")[0] == array for job in result.stdout.split())
