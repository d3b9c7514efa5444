"""The names of the files in a run's folder, ``<results>/<suite>/<run_id>/``, defined once, and
how its JSON files are read (a file that cannot be read is :class:`CorruptFileError`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omnibench.errors import CorruptFileError

SPEC_FILE = "spec.json"  # the run's spec, written when the run is prepared
STATUS_FILE = "status.json"  # its recorded state (store.states.RECORDED), job, error
LOCK_FILE = "lock.json"  # while a process executes it: who (store.claim)
LOG_FILE = "log.txt"  # everything the run printed
CHECKPOINT_FILE = "checkpoint.pt"  # the whole training state, to resume
SHOTS_FILE = "train_list.txt"  # few-shot: the K videos per class it drew
PREDICTIONS_FILE = "predictions.csv"  # one row per evaluated video
TRAIN_STEPS_FILE = "train_steps.json"  # loss and LR of every optimiser step (store.train_steps)
EVENTS_FILE = "events.out.tfevents.omnibench"  # TensorBoard's, with --tensorboard (tb_events)
RECORD_FILE = "record.json"  # written last: a run is finished exactly when it exists
SUITE_SOURCE_FILE = "suite.json"  # in <results>/<suite>/: the suite file its runs came from
INDEX_FILE = ".index.json"  # in <results>/<suite>/: what its finished runs' files say (a cache)
OUTCOMES_FILE = ".outcomes.npz"  # in <results>/<suite>/: its runs' predictions as read (a cache)
TABULATED_FILE = ".tabulated.json"  # in <results>/<suite>/: done runs' records, for reports
DELTAS_FILE = ".deltas.json"  # in <results>/<suite>/: its tables' paired Δ intervals, for reports
# the caches above: no results
PLAN_FILE = ".plan.pickle"  # in <results>/<suite>/: the suite file expanded (suite.plan_cache)
CACHE_FILES = (INDEX_FILE, OUTCOMES_FILE, TABULATED_FILE, DELTAS_FILE, PLAN_FILE)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when there is no such file; :class:`CorruptFileError` when it
    cannot be read or parsed (a truncated write, a file replaced by hand)."""
    return read_json_stat(path)[0]


def read_json_stat(path: Path) -> tuple[Any, os.stat_result | None]:
    """:func:`read_json` with the ``stat`` of that very file (taken from the open file);
    ``(None, None)`` when there is no such file."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return json.loads(handle.read().decode("utf-8")), stat
    except (
        FileNotFoundError,
        NotADirectoryError,
    ):  # NotADirectoryError: a file stands where a folder should
        return None, None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(path, f"not valid JSON ({err})") from None
    except OSError as err:
        raise CorruptFileError(path, f"cannot read ({err.strerror})") from None


def read_json_object(path: Path, what: str) -> dict[str, Any] | None:
    """:func:`read_json` of a file that must hold a JSON object (``what`` names it in the error)."""
    return json_object(read_json(path), path, what)


def json_object(data: Any, path: Path, what: str) -> dict[str, Any] | None:
    """``data`` (read from ``path``) when it is None or a JSON object; else
    :class:`CorruptFileError`."""
    if data is not None and not isinstance(data, dict):
        raise CorruptFileError(path, f"not {what} (a JSON {type(data).__name__}, not an object)")
    return data
