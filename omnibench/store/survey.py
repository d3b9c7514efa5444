"""Each run's state as the store shows it: new, pending, running, dead, done, stale, failed or
corrupt, and why (``status``, ``report``, ``rm``, the planner). A run is done when its record exists
and passes :func:`omnibench.store.acceptance.verdict`; a run whose status says running is dead when
no live process holds its claim (:mod:`omnibench.store.claim`); a run with a file that cannot be
read is corrupt. Finished runs are read through the suite's index (:mod:`omnibench.store.index`).
Asks no scheduler and imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omnibench.errors import CorruptFileError
from omnibench.store.acceptance import verdict
from omnibench.store.claim import Holder, holder_alive, read_holder
from omnibench.store.index import Finished, Verdict, finished_runs
from omnibench.store.run_store import RunStatus, RunStore
from omnibench.store.states import RunState


def run_state(store: RunStore, suite: str, run_id: str) -> tuple[str, RunStatus | None]:
    """A run's effective state and its status (see :func:`judged_state`)."""
    state, status, _ = judged_state(store, suite, run_id)
    return state, status


def judged_state(
    store: RunStore, suite: str, run_id: str
) -> tuple[str, RunStatus | None, str | None]:
    """State, status and why: ``done`` iff the record passes
    :func:`~omnibench.store.acceptance.verdict` (else ``stale`` or ``failed``, with the reason);
    ``new`` if never started; ``dead`` (with the reason) when its status says running but no live
    process holds it; ``corrupt`` (what and where) when a file of the run cannot be read."""
    try:
        return _judged_state(store, suite, run_id)
    except CorruptFileError as err:
        return RunState.CORRUPT, None, f"{err}; {clear_hint(suite, run_id)}"


def clear_hint(suite: str, run_id: str) -> str:
    """How a user clears a corrupt run."""
    return f"omnibench rm {suite} --run {run_id} (or run --force) clears the run"


def _judged_state(
    store: RunStore, suite: str, run_id: str, again: bool = False
) -> tuple[str, RunStatus | None, str | None]:
    store.read_spec(suite, run_id)  # read only to be sure it can be: prepare reads it to execute
    status = store.read_status(suite, run_id)
    record = store.read_record(suite, run_id)
    holder = read_holder(store.run_dir(suite, run_id))
    if record is not None:
        state, reason = verdict(record)
        return state, status, reason
    if status is None:
        return RunState.NEW, None, None
    if status.state == RunState.RUNNING and holder is None and not again:
        return _judged_state(store, suite, run_id, True)  # its holder may have just ended it
    gone = dead_reason(holder) if status.state == RunState.RUNNING else None
    if gone is not None:
        return RunState.DEAD, status, gone
    return (RunState.FAILED if status.state == RunState.DONE else status.state), status, None


def dead_reason(holder: Holder | None) -> str | None:
    """Why a run whose status says running is dead (None: its holder may still run it)."""
    if holder is None:
        return (
            "no process holds it (no lock.json): it was killed or lost its output before "
            "recording an end; rerun to resume"
        )
    if holder_alive(holder) is False:
        return f"{holder.process} ended without recording an end (killed?); rerun to resume"
    return None


def run_holder(store: RunStore, suite: str, run_id: str) -> Holder | None:
    """The process that holds the run's claim (``lock.json``), if any; None for an unreadable
    lock (the run shows as corrupt)."""
    try:
        return read_holder(store.run_dir(suite, run_id))
    except CorruptFileError:
        return None


def holder_liveness(store: RunStore, suite: str, run_id: str) -> bool | None:
    """Whether the process holding the run's claim still runs (None: no claim, or not visible from
    here)."""
    holder = run_holder(store, suite, run_id)
    return None if holder is None else holder_alive(holder)


Judged = tuple[
    str, RunStatus | None, str | None, Finished | None
]  # judged_state + its record's facts


def survey(store: RunStore, suite: str, run_ids: Sequence[str]) -> dict[str, Judged]:
    """:func:`judged_state` of many runs and, for those with a record, what it says; finished runs
    through the store's index (:mod:`omnibench.store.index`)."""
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
