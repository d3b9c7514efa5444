"""Run records as pandas frames, and a suite's runs as the store knows them.

Columns of :func:`records_frame` are the spec paths of ``RunSpec.to_dict()`` (``dataset``,
``model.name``, ``model.options.ratio``, ``protocol_options.shots``, ...) plus the record's
other sections under their own prefix (``metrics.top1``, ``cost.gflops_video``,
``seeds.data_seed``). Lists become tuples so every value can be grouped on. Three columns are
derived: ``eval_splits`` ((dataset, split) pairs evaluated, subsets folded into their split),
``num_classes`` (of the record's class list) and ``skipped``
(:class:`omnibench.store.acceptance.Skipped`).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnibench.config.spec import RunSpec
from omnibench.report.pooling import EVAL_PREFIX as EVAL_PREFIX  # an evaluation's columns
from omnibench.report.pooling import Flattened, dotted
from omnibench.report.tabulated import tabulated_records
from omnibench.store.acceptance import skipped
from omnibench.store.states import RunState
from omnibench.store.survey import survey

if TYPE_CHECKING:
    from omnibench.store.run_store import RunStore

# Record sections that are not one value per run (evaluations get their own frame).
_SKIPPED = ("spec", "evaluations", "files", "classes")
NOT_TABULATED = ("train.history",)  # per-epoch curves: no table groups on or shows them


@dataclasses.dataclass(frozen=True)
class SuiteRuns:
    """What a report knows about one suite: its expected specs, their states, the finished
    records."""

    suite: str
    expected: tuple[
        Mapping[str, Any], ...
    ]  # RunSpec.plain() of every run the suite defines, in order (to read only)
    states: Mapping[
        str, str
    ]  # run_id -> new | pending | running | done | stale | failed (store.states.RunState)
    records: tuple[
        dict[str, Any], ...
    ]  # records of the suite's done runs (see omnibench.store.acceptance)
    stale: int = 0  # records in the store that the suite no longer defines (not shown)
    run_dirs: Mapping[str, Path] = dataclasses.field(
        default_factory=dict
    )  # finished run -> its folder (predictions)

    def counts(self) -> Counter[str]:
        """How many of the suite's runs are in each state."""
        return Counter(self.states.values())

    @functools.cached_property
    def expected_frame(self) -> pd.DataFrame:
        """:func:`specs_frame` of :attr:`expected` (made once: several tables and checks use it)."""
        return specs_frame(self.expected)

    @functools.cached_property
    def records_frame(self) -> pd.DataFrame:
        """:func:`records_frame` of :attr:`records` without what no table shows (made once)."""
        return records_frame(self.records, NOT_TABULATED)


def flatten(
    record: Mapping[str, Any],
    leave_out: Collection[str] = (),
    shared: tuple[Flattened, Flattened] | None = None,
) -> dict[str, Any]:
    """One record as flat columns: spec paths unprefixed, other sections prefixed by their name
    (``leave_out``: columns not made; ``shared``: the spec's and the other sections' mappings
    already flattened, :func:`~omnibench.report.pooling.dotted`)."""
    rest = {k: v for k, v in record.items() if k not in _SKIPPED}
    specs, others = shared or (None, None)
    return {
        **dotted(record.get("spec") or {}, shared=specs),
        **dotted(rest, leave_out=leave_out, shared=others),
        **_derived(record),
    }


def _tabulated(record: dict[str, Any]) -> dict[str, Any]:
    """A record as reports hold it, thousands at once: without what no table shows
    (:data:`NOT_TABULATED`), class names shared between records."""
    for path in NOT_TABULATED:
        *parents, last = path.split(".")
        node: Any = record
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    if isinstance(record.get("classes"), list):
        record["classes"] = [sys.intern(c) if isinstance(c, str) else c for c in record["classes"]]
    return record


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


def records_frame(
    records: Iterable[Mapping[str, Any]], leave_out: Collection[str] = ()
) -> pd.DataFrame:
    """One row per run record (see the module docstring for the columns; ``leave_out``: columns
    not made)."""
    shared: tuple[Flattened, Flattened] = ({}, {})  # records kept with shared sections
    return pd.DataFrame([flatten(r, leave_out, shared) for r in records])


def evaluations_frame(
    records: Iterable[Mapping[str, Any]], leave_out: Collection[str] = ()
) -> pd.DataFrame:
    """One row per evaluation of every record: the run's columns plus ``eval.dataset``,
    ``eval.split``, ``eval.top1``, ..."""
    rows = []
    for record in records:
        flat = flatten(record, leave_out)
        for evaluation in record.get("evaluations") or ():
            rows.append({**flat, **{EVAL_PREFIX + k: v for k, v in evaluation.items()}})
    return pd.DataFrame(rows)


def store_frame(store: RunStore, suite: str | None = None) -> pd.DataFrame:
    """Every finished run in ``store`` (or one suite of it) as :func:`records_frame` rows, for
    analysis."""
    records = (store.read_record(run.suite, run.run_id) for run in store.iter_runs(suite))
    return records_frame(r for r in records if r is not None)


def specs_frame(specs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Expected runs (spec dicts) flattened like :func:`records_frame`; a section several specs
    share (the same object: :meth:`RunSpec.plain` of a suite's runs) is flattened once."""
    shared: Flattened = {}
    derived = _derived({})  # a spec has no evaluations, classes or skipped videos
    return pd.DataFrame([{**dotted(s, shared=shared), **derived} for s in specs])


def collect_runs(suite: str, specs: Sequence[RunSpec], store: RunStore) -> SuiteRuns:
    """The suite's runs in ``store``, in the states ``omnibench status`` shows
    (:func:`omnibench.store.survey.survey`), and the records of the done ones."""
    run_ids = [spec.run_id() for spec in specs]
    judged = survey(store, suite, run_ids)
    states = {run_id: judged[run_id][0] for run_id in run_ids}
    done = [run_id for run_id in run_ids if states[run_id] == RunState.DONE]
    keys = {run_id: facts.record_key for run_id, (*_, facts) in judged.items() if facts}
    records = tabulated_records(store, suite, done, _tabulated, keys)
    stale = sum(
        1 for run_id in store.run_ids(suite, besides=states) if store.is_done(suite, run_id)
    )
    run_dirs = {run_id: store.run_dir(suite, run_id) for run_id in done}
    return SuiteRuns(
        suite, tuple(s.plain() for s in specs), states, tuple(records), stale, run_dirs
    )
