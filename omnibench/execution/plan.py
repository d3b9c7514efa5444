"""What one ``omnibench run`` does with each run of a suite: skip, run, resume, rerun or wait.

A run is done when its record exists and passes :func:`omnibench.execution.acceptance.verdict`: it
is skipped without loading any model. A record whose annotation files changed since (``stale``)
or that no longer passes the checks (a record of an older omnibench) is rerun from scratch. A
run whose Slurm job is still queued or running (``squeue``), or that a live process on this
host executes (its claim, :mod:`omnibench.execution.claim`), is left alone. Anything else executes:
from its checkpoint when there is one. ``--force`` clears the run directory first.
Nothing here imports torch, so re-running a finished suite returns at once.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omnibench.config.spec import RunSpec
from omnibench.config.suite import Suite, load_suite, suite_files
from omnibench.config.suite_paths import Leaves
from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.execution import slurm_client
from omnibench.execution.acceptance import verdict
from omnibench.execution.claim import Holder, holder_alive, read_holder
from omnibench.execution.states import ACTIVE, RunState
from omnibench.execution.store import RunStatus, RunStore
from omnibench.execution.store_index import Finished, Verdict, finished_runs
from omnibench.registry import did_you_mean

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
    finished: Finished | None = None  # what its record says, when it has one

    @property
    def judged(self) -> tuple[str, RunStatus | None, str | None, Finished | None]:
        """State, status, reason and record facts (:func:`survey`'s answer for the run)."""
        return self.state, self.status, self.reason, self.finished

    @property
    def executes(self) -> bool:
        """True if this invocation executes the run."""
        return self.action in EXECUTING

    @property
    def action_text(self) -> str:
        """What happens to the run, with the reason of a rerun."""
        return (
            f"rerun ({self.reason or '--force'})"
            if self.action == "rerun"
            else ACTION_TEXT[self.action]
        )


FILTERS = {
    "--dataset": lambda spec: list(spec.datasets_read()),
    "--model": lambda spec: [spec.model.name],
    "--shots": lambda spec: (
        [spec.protocol_options["shots"]] if "shots" in spec.protocol_options else None
    ),
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
                raise OmniBenchError(
                    f"{flag} {value}: no run of suite '{suite.name}' "
                    f"has it{hint}; values: {', '.join(known)}"
                )
        chosen = {str(v) for v in wanted}
        specs = tuple(
            s for s in specs if (found := values(s)) is None or chosen & {str(v) for v in found}
        )
    return specs


def find_suite(name_or_path: str, store: RunStore, settings: Leaves | None = None) -> Suite:
    """A suite by name or file; a suite once run from a file is also found by its name (the store
    recorded it)."""
    try:
        return load_suite(name_or_path, settings)
    except UnknownNameError:
        source = store.suite_source(name_or_path) if name_or_path in store.suites() else None
        if source is None:
            raise
    if not source.is_file():
        raise OmniBenchError(
            f"suite '{name_or_path}' was run from {source}, "
            "which no longer exists; pass its new path"
        )
    return load_suite(source, settings)


def remember_source(store: RunStore, suite: Suite) -> None:
    """Record the suite's file in the store; a file that reuses a known suite's name is refused."""
    known = suite_files().get(suite.name)
    if known is not None and known.resolve() != suite.path.resolve():
        raise OmniBenchError(
            f"{suite.path}: suite name '{suite.name}' is already taken by {known}; "
            "rename the file and its 'name:'"
        )
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


def judged_state(
    store: RunStore, suite: str, run_id: str
) -> tuple[str, RunStatus | None, str | None]:
    """State, status and why a stored record does not count: ``done`` iff the record passes
    :func:`~omnibench.execution.acceptance.verdict` (else ``stale`` or ``failed``); ``new`` if never
    prepared."""
    status = store.read_status(suite, run_id)
    record = store.read_record(suite, run_id)
    if record is not None:
        state, reason = verdict(record)
        return state, status, reason
    if status is None:
        return RunState.NEW, None, None
    if status.state == RunState.RUNNING and holder_liveness(store, suite, run_id) is False:
        return RunState.DEAD, status, None
    return (RunState.FAILED if status.state == RunState.DONE else status.state), status, None


def holder_liveness(store: RunStore, suite: str, run_id: str) -> bool | None:
    """Whether the process holding the run's claim still runs (None: no claim, or not visible from
    here)."""
    holder = read_holder(store.run_dir(suite, run_id))
    return None if holder is None else holder_alive(holder)


Judged = tuple[
    str, RunStatus | None, str | None, Finished | None
]  # judged_state + its record's facts


def survey(store: RunStore, suite: str, run_ids: Sequence[str]) -> dict[str, Judged]:
    """:func:`judged_state` of many runs and, for those with a record, what it says; finished runs
    through the store's index (:mod:`omnibench.execution.store_index`)."""
    finished = finished_runs(store, suite, run_ids)
    judged: dict[str, Judged] = {}
    checked: dict[Any, Verdict] = {}  # annotation files are checked once per distinct set
    for run_id in run_ids:
        facts = finished.get(run_id)
        if facts is None:
            judged[run_id] = (*judged_state(store, suite, run_id), None)
        else:
            state, reason = facts.verdict(checked)
            judged[run_id] = (state, facts.status, reason, facts)
    return judged


def plan_runs(
    suite: str, specs: Iterable[RunSpec], store: RunStore, force: bool = False
) -> list[PlannedRun]:
    """Decide, for each spec, what this invocation does (see the module docstring)."""
    listed = [(spec, spec.run_id()) for spec in specs]
    judged = survey(store, suite, [run_id for _, run_id in listed])
    current = [(spec, run_id, *judged[run_id]) for spec, run_id in listed]
    queued = [
        s.job_id
        for _, _, state, s, _, _ in current
        if s is not None and s.job_id and state in ACTIVE
    ]
    live = slurm_client.live_jobs(queued) if queued else set()
    plans = []
    for spec, run_id, state, status, reason, facts in current:
        if status is not None and status.job_id in live and state in ACTIVE:
            action = "wait"
        elif state == RunState.RUNNING and holder_liveness(store, suite, run_id):
            action = "held"
        elif force or reason is not None:  # a stale or unusable record is replaced, like --force
            action = "rerun"
        elif state == RunState.DONE:
            action = "skip"
        else:
            action = "resume" if store.has_checkpoint(suite, run_id) else "run"
        plans.append(PlannedRun(spec, run_id, state, action, status, reason, facts))
    return plans


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
        holder = read_holder(run.path) if state in (*ACTIVE, RunState.DEAD) else None
        if state == RunState.DEAD and holder is not None:
            store.write_status(
                suite,
                run.run_id,
                RunState.FAILED,
                error=f"{holder.process} ended without recording an end (killed?); rerun to resume",
            )
            done.dead.append(run.run_id)
        elif holder is not None and holder.cluster != "slurm" and holder_alive(holder):
            local.append((run.run_id, holder))
        elif state in ACTIVE and status is not None and status.job_id:
            queued.append((run.run_id, status.job_id))
    done.stopped = _stop_processes(store, suite, local)
    done.slurm, done.gone = _cancel_slurm(store, suite, queued)
    return done


def _stop_processes(
    store: RunStore, suite: str, held: Sequence[tuple[str, Holder]]
) -> list[tuple[str, str]]:
    """SIGTERM each holder, wait (``STOP_WAIT_S``) for it to record its end, mark the run
    cancelled."""
    for process in {holder.process for _, holder in held}:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise OmniBenchError(f"cannot stop {process}: it belongs to another user") from None
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and any(
        holder_liveness(store, suite, run_id) for run_id, _ in held
    ):
        time.sleep(0.2)
    stopped = []
    for run_id, holder in held:
        if holder_liveness(store, suite, run_id):
            continue  # still stopping: its status shows how it ends
        store.write_status(
            suite, run_id, RunState.FAILED, error=f"cancelled (SIGTERM to {holder.process})"
        )
        stopped.append((run_id, str(holder.process)))
    return stopped


def _cancel_slurm(
    store: RunStore, suite: str, queued: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """``scancel`` the jobs ``squeue`` still lists; returns them and the runs whose job is gone."""
    if not queued:
        return [], []
    tool = slurm_client.missing_tool(slurm_client.CANCEL_TOOLS)
    if tool is not None:
        raise OmniBenchError(f"{tool} not found: cancelling needs Slurm's client tools on PATH")
    live = slurm_client.live_jobs([job for _, job in queued])
    cancelled = [(run_id, job) for run_id, job in queued if job in live]
    if cancelled:
        slurm_client.scancel(sorted({job for _, job in cancelled}))
    for run_id, job in cancelled:
        store.write_status(suite, run_id, RunState.FAILED, error=f"cancelled (scancel {job})")
    return cancelled, [run_id for run_id, job in queued if job not in live]
