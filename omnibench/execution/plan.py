"""What one ``omnibench run`` does with each run of a suite: skip, run, resume, rerun or wait.

A run is done when its record exists and passes :func:`omnibench.store.acceptance.verdict`: it
is skipped without loading any model. A record whose annotation files changed since (``stale``)
or that no longer passes the checks (a record of an older omnibench) is rerun from scratch. A
run whose Slurm job is still queued or running (``squeue``), or whose claim
(:mod:`omnibench.store.claim`) a process holds that is not provably gone (on this host or
another), is left alone, as the claim itself would decide. A ``corrupt`` run (a file that cannot be
read) is left alone and shown. Anything else executes: from its checkpoint when there is one.
``--force`` clears the run directory first (also of a corrupt run).
Nothing here imports torch, so re-running a finished suite returns at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omnibench import slurm_client
from omnibench.config.spec import RunSpec
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean
from omnibench.store.claim import Holder, holder_alive
from omnibench.store.index import Finished
from omnibench.store.run_store import RunStatus, RunStore
from omnibench.store.states import ACTIVE, RunState
from omnibench.store.survey import run_holder, survey
from omnibench.suite.load import Suite

EXECUTING = ("run", "resume", "rerun")
ACTION_TEXT = {
    "skip": "skip (done)",
    "run": "run",
    "resume": "resume from checkpoint",
    "wait": "skip (job in queue)",
    "held": "skip (held by another process)",
    "corrupt": "skip (corrupt: see below)",
}


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of the suite, its state in the store and what this invocation does with it."""

    spec: RunSpec
    run_id: str
    state: str  # new | pending | running | dead | done | stale | failed | corrupt
    action: str  # skip | run | resume | rerun | wait | held | corrupt
    status: RunStatus | None = None
    reason: str | None = None  # why it is not done (stale, unusable, dead, corrupt), or reruns
    holder: Holder | None = None  # the process holding its claim (lock.json), if any
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
        """What happens to the run, with the reason of a rerun and the holder of a held run."""
        if self.action == "held" and self.holder is not None:
            return f"skip (held by {self.holder.process})"
        if self.action != "rerun":
            return ACTION_TEXT[self.action]
        if self.state == RunState.CORRUPT:
            return "rerun (--force clears the corrupt run)"
        stored = self.state in (RunState.STALE, RunState.FAILED)  # why its record is replaced
        return f"rerun ({self.reason if stored and self.reason else '--force'})"


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


def _natural(text: str) -> tuple[int, float | str]:
    """Numbers in numeric order before names: 2, 4, 8, 16 (not 16, 2, 4, 8)."""
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def plan_runs(
    suite: str, specs: Iterable[RunSpec], store: RunStore, force: bool = False
) -> list[PlannedRun]:
    """Decide, for each spec, what this invocation does (see the module docstring)."""
    listed = [(spec, spec.run_id()) for spec in specs]
    judged = survey(store, suite, [run_id for _, run_id in listed])
    current = [(spec, run_id, *judged[run_id]) for spec, run_id in listed]
    queued = [
        s.job_id for _, _, state, s, *_ in current if s is not None and s.job_id and state in ACTIVE
    ]
    live = slurm_client.live_jobs(queued) if queued else set()
    holders = {  # a done run's claim decides nothing; a corrupt run's may be what is corrupt
        run_id: run_holder(store, suite, run_id)
        for _, run_id, state, *_ in current
        if state not in (RunState.DONE, RunState.CORRUPT)
    }
    ended = _ended_slurm_holders(holders.values())
    plans = []
    for spec, run_id, state, status, reason, facts in current:
        holder = holders.get(run_id)
        action = _action(state, status, reason, _holds(holder, ended), live, force)
        if action == "resume" and not store.has_checkpoint(suite, run_id):
            action = "run"
        plans.append(PlannedRun(spec, run_id, state, action, status, reason, holder, facts))
    return plans


def _ended_slurm_holders(holders: Iterable[Holder | None]) -> set[str]:
    """The Slurm jobs among the claims' holders on other hosts that ``squeue`` no longer lists:
    the claim takes those over (``holder_alive(..., ask_slurm=True)``), so the plan does too."""
    jobs = [
        h.job_id
        for h in holders
        if h is not None and h.cluster == "slurm" and h.job_id and h.process.alive() is None
    ]
    return slurm_client.jobs_ended(jobs)


def _holds(holder: Holder | None, ended: set[str]) -> bool:
    """True when ``holder`` is not provably gone (``ended``: Slurm jobs that left the queue)."""
    return holder is not None and holder.job_id not in ended and holder_alive(holder) is not False


def _action(
    state: str,
    status: RunStatus | None,
    reason: str | None,
    held: bool,
    live: set[str],
    force: bool,
) -> str:
    """What ``run`` does with a run in ``state``; ``held``: a process that is not provably gone
    holds its claim (the claim itself would leave the run alone)."""
    if state == RunState.CORRUPT:
        return "rerun" if force else "corrupt"
    if status is not None and status.job_id in live and state in ACTIVE:
        return "wait"
    if held and state not in (RunState.DONE, RunState.DEAD):
        return "held"
    replaces_record = state == RunState.STALE or (state == RunState.FAILED and reason is not None)
    if force or replaces_record:  # a stale or unusable record is replaced, like --force
        return "rerun"
    return "skip" if state == RunState.DONE else "resume"
