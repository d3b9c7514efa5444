"""The states of a run, defined once.

``status.json`` records four (``RECORDED``); ``status`` and the report show three more, derived
when a store is read: ``new`` (never started), ``dead`` (``running``, but the process holding it
is provably gone) and ``stale`` (finished, but annotation files it read have changed since).
"""
from __future__ import annotations

import enum


class RunState(enum.StrEnum):
    """A run's state, in the order tables list them; each compares equal to its name as a string."""

    NEW = "new"
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"
    DONE = "done"
    STALE = "stale"
    FAILED = "failed"


RECORDED = (RunState.PENDING, RunState.RUNNING, RunState.DONE, RunState.FAILED)  # what status.json holds
ACTIVE = (RunState.PENDING, RunState.RUNNING)  # queued or executing: a job or process may still own the run
