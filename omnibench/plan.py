"""What one ``omnibench run`` does with each run of a suite: skip, run, resume, rerun or wait.

A run is done when its record exists and passes :func:`omnibench.acceptance.verdict`: it is
skipped without loading any model. A record whose annotation files changed since (``stale``)
or that no longer passes the checks (a record of an older omnibench) is rerun from scratch. A
run whose Slurm job is still queued or running (``squeue``), or that a live process on this
host executes (its claim, :mod:`omnibench.claim`), is left alone. Anything else executes:
from its checkpoint when there is one. ``--force`` clears the run directory first.
Nothing here imports torch, so re-running a finished suite returns at once.
"""
from __future__ import annotations

import dataclasses
import getpass
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omnibench.acceptance import verdict
from omnibench.claim import Holder, holder_alive, read_holder
from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.registry import did_you_mean
from omnibench.spec import RunSpec
from omnibench.store import STATES, RunStatus, RunStore
from omnibench.suite import Suite, load_suite, suite_files
from omnibench.suite_paths import Leaves

# "new": never started; "dead": running, but the process holding it is provably gone (killed);
# "stale": its record read annotation files that changed since. Shown, never recorded in status.json.
DEAD = "dead"
RUN_STATES = ("new", *STATES[:2], DEAD, STATES[2], "stale", STATES[3])
EXECUTING = ("run", "resume", "rerun")
STOP_WAIT_S = 30.0  # how long ``cancel`` waits for a stopped process to record its end
ACTION_TEXT = {
    "skip": "skip (done)",
    "run": "run",
    "resume": "resume from checkpoint",
    "wait": "skip (job in queue)",
    "held": "skip (running in another process)",
}


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of the suite, its state in the store and what this invocation does with it."""

    spec: RunSpec
    run_id: str
    state: str  # new | pending | running | dead | done | stale | failed
    action: str  # skip | run | resume | rerun | wait | held
    status: RunStatus | None = None
    reason: str | None = None  # why a stored record is not done (stale, unusable), or why it reruns

    @property
    def executes(self) -> bool:
        """True if this invocation executes the run."""
        return self.action in EXECUTING

    @property
    def action_text(self) -> str:
        """What happens to the run, with the reason of a rerun."""
        return f"rerun ({self.reason or '--force'})" if self.action == "rerun" else ACTION_TEXT[self.action]


def _targets(spec: RunSpec) -> list[Any]:
    targets = spec.protocol_options.get("targets") or ()
    return [spec.dataset, *(targets if isinstance(targets, (list, tuple)) else [targets])]


FILTERS = {
    "--dataset": lambda spec: _targets(spec),
    "--model": lambda spec: [spec.model.name],
    "--shots": lambda spec: [spec.protocol_options["shots"]] if "shots" in spec.protocol_options else None,
}


def select_runs(suite: Suite, filters: Mapping[str, Sequence[Any]]) -> tuple[RunSpec, ...]:
    """The suite's specs that match every given filter (``--shots`` keeps runs without shots)."""
    specs = suite.specs
    for flag, wanted in filters.items():
        if not wanted:
            continue
        values = FILTERS[flag]
        known = sorted({str(v) for spec in suite.specs for v in values(spec) or ()}, key=_natural)
        for value in wanted:
            if str(value) not in known:
                hint = did_you_mean(str(value), known)
                raise OmniBenchError(f"{flag} {value}: no run of suite '{suite.name}' has it{hint}; values: {', '.join(known)}")
        chosen = {str(v) for v in wanted}
        specs = tuple(s for s in specs if values(s) is None or chosen & {str(v) for v in values(s)})
    return specs


def find_suite(name_or_path: str, store: RunStore, settings: Leaves | None = None) -> Suite:
    """A suite by name or file; a suite once run from a file is also found by its name (the store recorded it)."""
    try:
        return load_suite(name_or_path, settings)
    except UnknownNameError:
        source = store.suite_source(name_or_path) if name_or_path in store.suites() else None
        if source is None:
            raise
    if not source.is_file():
        raise OmniBenchError(f"suite '{name_or_path}' was run from {source}, which no longer exists; pass its new path")
    return load_suite(source, settings)


def remember_source(store: RunStore, suite: Suite) -> None:
    """Record the suite's file in the store; a file that reuses a known suite's name is refused."""
    known = suite_files().get(suite.name)
    if known is not None and known.resolve() != suite.path.resolve():
        raise OmniBenchError(f"{suite.path}: suite name '{suite.name}' is already taken by {known}; "
                             "rename the file and its 'name:'")
    store.remember_suite(suite.name, suite.path)


def _natural(text: str) -> tuple[int, float | str]:
    """Numbers in numeric order before names: 2, 4, 8, 16 (not 16, 2, 4, 8)."""
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def run_state(store: RunStore, suite: str, run_id: str) -> tuple[str, RunStatus | None]:
    """A run's effective state and its status (see :func:`judged_state`)."""
    state, status, _ = judged_state(store, suite, run_id)
    return state, status


def judged_state(store: RunStore, suite: str, run_id: str) -> tuple[str, RunStatus | None, str | None]:
    """State, status and why a stored record does not count: ``done`` iff the record passes
    :func:`~omnibench.acceptance.verdict` (else ``stale`` or ``failed``); ``new`` if never prepared."""
    status = store.read_status(suite, run_id)
    record = store.read_record(suite, run_id)
    if record is not None:
        state, reason = verdict(record)
        return state, status, reason
    if status is None:
        return "new", None, None
    if status.state == "running" and holder_liveness(store, suite, run_id) is False:
        return DEAD, status, None
    return ("failed" if status.state == "done" else status.state), status, None


def holder_liveness(store: RunStore, suite: str, run_id: str) -> bool | None:
    """Whether the process holding the run's claim still runs (None: no claim, or not visible from here)."""
    holder = read_holder(store.run_dir(suite, run_id))
    return None if holder is None else holder_alive(holder)


def plan_runs(suite: str, specs: Iterable[RunSpec], store: RunStore, force: bool = False) -> list[PlannedRun]:
    """Decide, for each spec, what this invocation does (see the module docstring)."""
    current = []
    for spec in specs:
        run_id = spec.run_id()
        current.append((spec, run_id, *judged_state(store, suite, run_id)))
    queued = [s.job_id for _, _, state, s, _ in current if s is not None and s.job_id and state in ("pending", "running")]
    live = live_slurm_jobs(queued) if queued else set()
    plans = []
    for spec, run_id, state, status, reason in current:
        if status is not None and status.job_id in live and state in ("pending", "running"):
            action = "wait"
        elif state == "running" and holder_liveness(store, suite, run_id):
            action = "held"
        elif force or reason is not None:  # a stale or unusable record is replaced, like --force
            action = "rerun"
        elif state == "done":
            action = "skip"
        else:
            action = "resume" if store.has_checkpoint(suite, run_id) else "run"
        plans.append(PlannedRun(spec, run_id, state, action, status, reason))
    return plans


def live_slurm_jobs(job_ids: Sequence[str]) -> set[str]:
    """Those of ``job_ids`` that Slurm still has queued or running (empty without ``squeue``)."""
    squeue = shutil.which("squeue")
    if squeue is None:
        return set()
    command = [squeue, "--noheader", "--array", "--format=%i", f"--user={getpass.getuser()}"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    alive = set(out.split())
    return {job for job in job_ids if job in alive}


@dataclasses.dataclass
class Cancellation:
    """What ``omnibench cancel`` did: Slurm jobs cancelled, local processes stopped, dead runs
    marked failed, and runs whose recorded Slurm job is gone from the queue."""

    slurm: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (run id, job id)
    stopped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (run id, process)
    dead: list[str] = dataclasses.field(default_factory=list)
    gone: list[str] = dataclasses.field(default_factory=list)


def cancel_runs(store: RunStore, suite: str) -> Cancellation:
    """Stop the suite's queued and running runs and mark them ``failed``.

    A run held by a live process on this host (inline, local executor) gets SIGTERM (the process
    records the end); a dead one is marked failed; queued or running Slurm jobs that ``squeue``
    lists are ``scancel``-ed (a local process's id is not a Slurm job)."""
    done, local, queued = Cancellation(), [], []
    for run in store.iter_runs(suite):
        state, status = run_state(store, suite, run.run_id)
        holder = read_holder(run.path) if state in ("pending", "running", DEAD) else None
        if state == DEAD and holder is not None:
            store.write_status(suite, run.run_id, "failed", error=f"{holder.process} ended without recording an end "
                               "(killed?); rerun to resume")
            done.dead.append(run.run_id)
        elif holder is not None and holder.cluster != "slurm" and holder_alive(holder):
            local.append((run.run_id, holder))
        elif state in ("pending", "running") and status is not None and status.job_id:
            queued.append((run.run_id, status.job_id))
    done.stopped = _stop_processes(store, suite, local)
    done.slurm, done.gone = _cancel_slurm(store, suite, queued)
    return done


def _stop_processes(store: RunStore, suite: str, held: Sequence[tuple[str, Holder]]) -> list[tuple[str, str]]:
    """SIGTERM each holder, wait (``STOP_WAIT_S``) for it to record its end, mark the run cancelled."""
    for process in {holder.process for _, holder in held}:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise OmniBenchError(f"cannot stop {process}: it belongs to another user") from None
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and any(holder_liveness(store, suite, run_id) for run_id, _ in held):
        time.sleep(0.2)
    stopped = []
    for run_id, holder in held:
        if holder_liveness(store, suite, run_id):
            continue  # still stopping: its status shows how it ends
        store.write_status(suite, run_id, "failed", error=f"cancelled (SIGTERM to {holder.process})")
        stopped.append((run_id, str(holder.process)))
    return stopped


def _cancel_slurm(store: RunStore, suite: str, queued: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """``scancel`` the jobs ``squeue`` still lists; returns them and the runs whose job is gone."""
    if not queued:
        return [], []
    for tool in ("squeue", "scancel"):
        if shutil.which(tool) is None:
            raise OmniBenchError(f"{tool} not found: cancelling needs Slurm's client tools on PATH")
    live = live_slurm_jobs([job for _, job in queued])
    cancelled = [(run_id, job) for run_id, job in queued if job in live]
    if cancelled:
        _scancel(sorted({job for _, job in cancelled}))
    for run_id, job in cancelled:
        store.write_status(suite, run_id, "failed", error=f"cancelled (scancel {job})")
    return cancelled, [run_id for run_id, job in queued if job not in live]


def _scancel(job_ids: Sequence[str]) -> None:
    result = subprocess.run(["scancel", *job_ids], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise OmniBenchError(f"scancel {' '.join(job_ids)} failed: {result.stderr.strip() or result.returncode}")
