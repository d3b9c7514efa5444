"""Run records as pandas frames, and a suite's runs as the store knows them.

Columns of :func:`records_frame` are the spec paths of ``RunSpec.to_dict()`` (``dataset``,
``model.name``, ``model.options.ratio``, ``protocol_options.shots``, ...) plus the record's
other sections under their own prefix (``metrics.top1``, ``cost.gflops_video``,
``seeds.data_seed``). Lists become tuples so every value can be grouped on. Three columns are
derived: ``eval_splits`` ((dataset, split) pairs evaluated, subsets folded into their split),
``num_classes`` (of the record's class list) and ``skipped``
(:class:`omnibench.execution.acceptance.Skipped`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnibench.config.spec import RunSpec
from omnibench.execution.acceptance import skipped
from omnibench.execution.states import RunState

if TYPE_CHECKING:
    from omnibench.execution.store import RunStore

# Record sections that are not one value per run (evaluations get their own frame).
_SKIPPED = ("spec", "evaluations", "files", "classes")
EVAL_PREFIX = "eval."


@dataclasses.dataclass(frozen=True)
class SuiteRuns:
    """What a report knows about one suite: its expected specs, their states, the finished
    records."""

    suite: str
    expected: tuple[
        dict[str, Any], ...
    ]  # RunSpec.to_dict() of every run the suite defines, in order
    states: Mapping[
        str, str
    ]  # run_id -> new | pending | running | done | stale | failed (execution.states.RunState)
    records: tuple[
        dict[str, Any], ...
    ]  # records of the suite's done runs (see omnibench.execution.acceptance)
    stale: int = 0  # records in the store that the suite no longer defines (not shown)
    run_dirs: Mapping[str, Path] = dataclasses.field(
        default_factory=dict
    )  # finished run -> its folder (predictions)

    def counts(self) -> Counter[str]:
        """How many of the suite's runs are in each state."""
        return Counter(self.states.values())


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record as flat columns: spec paths unprefixed, other sections prefixed by their name."""
    rest = {k: v for k, v in record.items() if k not in _SKIPPED}
    return {**_dotted(record.get("spec") or {}), **_dotted(rest), **_derived(record)}


def _derived(record: Mapping[str, Any]) -> dict[str, Any]:
    evaluated = tuple(
        sorted(
            {
                (str(e.get("dataset")), str(e.get("split")).split("/")[0])
                for e in record.get("evaluations") or ()
            }
        )
    )
    return {
        "eval_splits": evaluated,
        "num_classes": len(record.get("classes") or ()),
        "skipped": skipped(record),
    }


def _dotted(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (an empty mapping gives no column), leaves hashable."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _hashable(value)
    return flat


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def records_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run record (see the module docstring for the columns)."""
    return pd.DataFrame([flatten(r) for r in records])


def evaluations_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per evaluation of every record: the run's columns plus ``eval.dataset``,
    ``eval.split``, ``eval.top1``, ..."""
    rows = []
    for record in records:
        flat = flatten(record)
        for evaluation in record.get("evaluations") or ():
            rows.append({**flat, **{EVAL_PREFIX + k: v for k, v in evaluation.items()}})
    return pd.DataFrame(rows)


def store_frame(store: RunStore, suite: str | None = None) -> pd.DataFrame:
    """Every finished run in ``store`` (or one suite of it) as :func:`records_frame` rows, for
    analysis."""
    records = (store.read_record(run.suite, run.run_id) for run in store.iter_runs(suite))
    return records_frame(r for r in records if r is not None)


def specs_frame(specs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Expected runs (spec dicts) flattened like :func:`records_frame`."""
    return pd.DataFrame([flatten({"spec": spec}) for spec in specs])


def collect_runs(suite: str, specs: Sequence[RunSpec], store: RunStore) -> SuiteRuns:
    """The suite's runs in ``store``, in the states ``omnibench status`` shows
    (:func:`omnibench.execution.plan.run_state`)."""
    from omnibench.execution.plan import run_state  # noqa: PLC0415

    states: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    for spec in specs:
        run_id = spec.run_id()
        states[run_id] = run_state(store, suite, run_id)[0]
        record = store.read_record(suite, run_id) if states[run_id] == RunState.DONE else None
        if record is not None:
            records.append(record)
    stale = sum(
        1
        for run in store.iter_runs(suite)
        if run.run_id not in states and store.is_done(suite, run.run_id)
    )
    run_dirs = {
        run_id: store.run_dir(suite, run_id)
        for run_id, state in states.items()
        if state == RunState.DONE
    }
    return SuiteRuns(
        suite, tuple(s.to_dict() for s in specs), states, tuple(records), stale, run_dirs
    )
