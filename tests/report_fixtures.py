"""Shared by the report tests: specs with the papers' defaults, run records in the record schema,
and SuiteRuns built from (spec, top-1 | state) pairs."""

from __future__ import annotations

from typing import Any

from omnibench.config.spec import RunSpec
from omnibench.report.labels import canonical_dataset
from omnibench.report.published import dataset_facts
from omnibench.report.records import SuiteRuns
from omnibench.report.tables import ReportTable, Row
from omnibench.store.revisions import computed_by
from omnibench.suite.defaults import apply_defaults

SCOPE = "video tower per view (SPG prompts included); text excluded"


def paper_spec(data: dict[str, Any]) -> RunSpec:
    """A spec with the papers' defaults beneath ``data`` (as suites build them)."""
    return RunSpec.from_dict(apply_defaults(data))


def make_record(
    spec: RunSpec,
    suite: str,
    metrics: dict[str, float],
    evaluations: list[dict[str, Any]] | None = None,
    gflops: float = 140.7,
) -> dict[str, Any]:
    """A run record in the ARCHITECTURE.md schema; without ``evaluations``, one on the dataset's
    first test split, and every dataset with its full class list (as the papers evaluate)."""
    first = dataset_facts().get(canonical_dataset(spec.dataset))
    split = first.test_splits[0] if first else "test1"
    evaluations = (
        evaluations
        if evaluations is not None
        else [
            {
                "dataset": spec.dataset,
                "split": split,
                "top1": metrics.get("top1"),
                "videos": 30,
                "skipped": 0,
            }
        ]
    )
    datasets = {spec.dataset, *(e["dataset"] for e in evaluations)}
    full = {
        d: f.classes
        for d in datasets
        if (f := dataset_facts().get(canonical_dataset(d))) is not None
    }
    return {
        "classes_per_dataset": full,
        **{
            "run_id": spec.run_id(),
            "suite": suite,
            "spec": spec.to_dict(),
            "computed_by": computed_by(spec.to_dict()),
            "seeds": {"seed": spec.seed, "data_seed": spec.data_seed},
            "git": {"sha": None, "dirty": None},
            "versions": {"python": "3.11", "torch": "2.13.0"},
            "files": {},
            "classes": ["a", "b"],
            "cost": {
                "gflops_video": gflops,
                "gflops_text_one": 2.9,
                "params_total": 10,
                "params_trainable": 2,
                "scope": SCOPE,
            },
            "wall_time_s": 1.0,
            "clips_per_s": 2.0,
            "skipped_videos": {"train": 0, "eval": 0},
            "leakage_override": False,
            "metrics": metrics,
            "evaluations": evaluations,
        },
    }


def few_shot_spec(model: str, dataset: str, shots: int | None, seed: int) -> RunSpec:
    if shots is None:  # Vanilla CLIP: one evaluation serves every K
        return paper_spec(
            {
                "protocol": "eval_only",
                "dataset": dataset,
                "model": {"name": model},
                "data_seed": seed,
            }
        )
    return paper_spec(
        {
            "protocol": "few_shot",
            "dataset": dataset,
            "model": {"name": model},
            "protocol_options": {"shots": shots},
            "data_seed": seed,
        }
    )


Plan = list[tuple[RunSpec, Any]]


def suite_runs(
    suite: str, plan: Plan, evaluations: dict[str, list[dict[str, Any]]] | None = None
) -> SuiteRuns:
    """SuiteRuns from (spec, top-1 | state) pairs: numbers become finished records, strings stay
    unfinished."""
    states, records = {}, []
    for spec, value in plan:
        done = not isinstance(value, str)
        states[spec.run_id()] = "done" if done else value
        if done:
            records.append(
                make_record(
                    spec,
                    suite,
                    {"top1": value, "top5": 90.0},
                    (evaluations or {}).get(spec.run_id()),
                )
            )
    return SuiteRuns(suite, tuple(spec.to_dict() for spec, _ in plan), states, tuple(records))


def row(table: ReportTable, method: str, kind: str, source: str | None = None) -> Row:
    found = [
        r
        for r in table.rows
        if r.method == method and r.kind == kind and (source is None or r.source == source)
    ]
    assert len(found) == 1, [(r.method, r.source, r.kind) for r in table.rows]
    return found[0]


def cell(
    table: ReportTable, method: str, kind: str, header: tuple[str, ...], source: str | None = None
) -> str:
    column = next(c for c in table.columns if c.header == header)
    return table.text(row(table, method, kind, source), column)
