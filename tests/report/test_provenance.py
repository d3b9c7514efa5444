"""A table names what computed the runs it shows, and says so when they come from several omnibench
commits or several revisions of a model (a store filled across upgrades)."""

from __future__ import annotations

from typing import Any

from omnibench.report.build import build_tables
from omnibench.report.provenance import provenance_line
from tests.report.test_tables import FEW_SHOT_TABLE
from tests.report_fixtures import few_shot_spec, suite_runs

SHA_A, SHA_B = "05be9581" + "0" * 32, "1a2b3c4d" + "0" * 32


def _record(model: str, revision: int, sha: str | None, dirty: bool | None = False) -> dict:
    parts: dict[str, Any] = {
        "model": {"name": model, "revision": revision, "options": {}},
        "protocol": {"name": "few_shot", "revision": 1, "options": {}},
    }
    return {"computed_by": parts, "git": {"sha": sha, "dirty": dirty}}


def test_one_commit_and_one_revision_each_is_one_short_line() -> None:
    records = [_record("omniclip", 2, SHA_A), _record("xclip", 1, SHA_A)]
    assert provenance_line(records) == (
        "Computed by models omniclip r2, xclip r1; protocols few_shot r1; omnibench 05be958."
    )
    assert provenance_line([]) is None


def test_mixed_commits_local_changes_and_revisions_are_each_counted() -> None:
    records = [
        _record("omniclip", 2, SHA_A),
        _record("omniclip", 2, SHA_A, dirty=True),
        _record("omniclip", 3, SHA_B),
        _record("xclip", 1, None, dirty=None),
    ]
    assert provenance_line(records) == (
        "Computed by models omniclip at 2 revisions: r2 (2 runs), r3 (1 run), xclip r1; "
        "protocols few_shot r1; 3 omnibench commits: 05be958 (2 runs, 1 with local changes), "
        "1a2b3c4 (1 run), an unknown commit (1 run)."
    )
    every_dirty = [_record("omniclip", 2, SHA_A, dirty=True)] * 2
    assert provenance_line(every_dirty).endswith("omnibench 05be958 (with local changes).")


def test_a_report_footer_says_its_runs_come_from_two_commits() -> None:
    plan = [(few_shot_spec("omniclip", "hmdb51", 2, seed), 50.0 + seed) for seed in (0, 1)]
    runs = suite_runs("few-shot", plan)
    for record, sha in zip(runs.records, (SHA_A, SHA_B), strict=True):
        record["git"] = {"sha": sha, "dirty": False}
    [table] = build_tables(FEW_SHOT_TABLE, runs)
    assert table.footer[-1].endswith("; 2 omnibench commits: 05be958 (1 run), 1a2b3c4 (1 run)."), (
        table.footer
    )
    assert table.footer[-1].startswith("Computed by models omniclip r")
