"""The states of a run, defined once.

``status.json`` records four (``RECORDED``); ``status`` and the report show four more, derived
when a store is read: ``new`` (never started), ``dead`` (``running``, but no live process holds
it: its holder provably ended, or none holds it), ``stale`` (finished, but annotation files it
read have changed since, or another revision of its model or protocol computed it:
:mod:`omnibench.store.revisions`) and ``corrupt`` (a file of the run cannot be read as what it
should be).
"""

from __future__ import annotations

import enum


# not StrEnum (UP042): StrEnum is Python 3.11+; requires-python allows 3.10
class RunState(str, enum.Enum):  # noqa: UP042
    """A run's state, in the order tables list them; each is (and prints as) its name as a
    string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    NEW = "new"
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"
    DONE = "done"
    STALE = "stale"
    FAILED = "failed"
    CORRUPT = "corrupt"


RECORDED = (
    RunState.PENDING,
    RunState.RUNNING,
    RunState.DONE,
    RunState.FAILED,
)  # what status.json holds
ACTIVE = (
    RunState.PENDING,
    RunState.RUNNING,
)  # queued or executing: a job or process may still own the run
