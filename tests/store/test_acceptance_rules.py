"""store/acceptance.py's rules by hand: skipped videos, their shares, the max_skipped limit,
metrics that are not numbers, what is a run record at all, the order of a verdict's checks, the
digest cache of annotation files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from omnibench.store.acceptance import (
    Skipped,
    UnusableRunError,
    check_record,
    current_digest,
    files_verdict,
    record_problems,
    record_shape_problem,
    record_verdict,
    sha256_file,
    share_text,
    skipped,
    too_many_skipped,
    verdict,
)
from omnibench.store.revisions import COMPUTED_BY, NO_RECORD, computed_by
from omnibench.store.states import RunState


def test_a_run_with_a_skipped_video_in_either_part_counts_as_skipping() -> None:
    assert Skipped(train=2) and Skipped(eval=1) and not Skipped()
    assert Skipped(train=2, train_listed=9, eval=1, eval_listed=8).text() == "1/8 eval, 2/9 train"
    assert Skipped(train=2).text() == "2/? train"


def test_shares_and_the_max_skipped_rule_at_their_edges() -> None:
    """2 of 16 is 12.5 %; nothing listed has no share; one broken video of one is more than 50 %,
    one of two is not (the limit itself passes)."""
    assert share_text(2, 16) == "2 of 16 (12.5%)"
    assert share_text(0, 0) == "0 of 0"
    assert too_many_skipped("test1", 1, 1, 0.5) == (
        "test1: 1 of 1 (100%) videos skipped as broken, more than max_skipped 50%; "
        "fix the data or raise max_skipped in the suite"
    )
    assert too_many_skipped("test1", 1, 2, 0.5) is None
    assert too_many_skipped("test1", 0, 0, 0.0) is None


def test_every_metric_that_is_not_a_number_is_named() -> None:
    record = {"metrics": {"top1": float("nan"), "top5": 50.0, "hm": float("inf")}}
    assert record_problems(record) == ["metric top1, hm is not a number (nan)"]


CHANGED_FILES = "annotation file(s) changed since the run: "
RECORD = {"run_id": "r1", "metrics": {"top1": 50.0}}


@pytest.mark.parametrize(
    "extra, problem",
    [
        ({}, None),
        ({"run_id": 7}, "no 'run_id'"),
        ({"metrics": {}}, "no 'metrics' mapping"),
        ({"metrics": [50.0]}, "no 'metrics' mapping"),
        ({"metrics": {"top1": 50.0, "top5": "80"}}, "'metrics' holds values that are not numbers"),
        ({"metrics": {"top1": True}}, "'metrics' holds values that are not numbers"),
        ({"classes": {"a": 0}}, "'classes' is not a list"),
        ({"files": ["a.csv"]}, "'files' is not a mapping"),
        ({"evaluations": None, "files": None, "train": None}, None),
        ({"train": [1]}, "'train' is not a mapping"),
        ({"evaluations": [{"skipped": "2"}]}, "'evaluations' holds a value that is not a number"),
        ({"evaluations": [{"nonfinite": "1"}]}, "'evaluations' holds a value that is not a number"),
        ({"train": {"videos": "9"}}, "'train' holds a value that is not a number"),
        ({"train": {"clips": "9"}}, "'train' holds a value that is not a number"),
        (
            {"train": {"history": [{"epoch": "1"}]}},
            "'train.history' holds a value that is not a number",
        ),
        ({"skipped_videos": {"train": "1"}}, "'skipped_videos' holds a value that is not a number"),
        (
            {"evaluations": [{"videos": 3}, {"videos": "3"}]},
            "'evaluations' holds a value that is not a number",
        ),
        ({"evaluations": [{"videos": 3}, 3]}, "'evaluations' holds a value that is not a number"),
        ({"evaluations": [{"videos": None, "skipped": 1, "nonfinite": 0}]}, None),
        ({"train": {"videos": 9, "epochs": True}}, "'train' holds a value that is not a number"),
        (
            {"train": {"history": [{"loss": 0.5}, {"loss": "nan"}]}},
            "'train.history' holds a value that is not a number",
        ),
        (
            {"train": {"history": {"loss": 0.5}}},
            "'train.history' holds a value that is not a number",
        ),
        (
            {"skipped_videos": {"train": 1, "eval": "2"}},
            "'skipped_videos' holds a value that is not a number",
        ),
    ],
)
def test_what_is_not_a_run_record(extra: dict, problem: str | None) -> None:
    """Each section of the wrong type, each count that is not a number (in any entry, not only
    the first), named in full; absent and null sections and fields are fine."""
    found = record_shape_problem({**RECORD, **extra})
    if problem is None:
        assert found is None
    else:
        assert found == f"not a run record ({problem})"


def test_a_record_of_another_run_is_named_by_both_ids() -> None:
    assert record_shape_problem(RECORD, "r1") is None
    assert record_shape_problem(RECORD, "r2") == "the record of run r1, not of run r2"


def test_a_file_rewritten_with_its_old_size_or_its_old_mtime_is_read_again(tmp_path: Path) -> None:
    """The digest cache is keyed by size and mtime both: a rewrite that keeps one of them (same
    length, or a copy that kept the old time stamp) is hashed again."""
    same_size, same_time = tmp_path / "a.csv", tmp_path / "b.csv"
    for path in (same_size, same_time):
        path.write_text("x,1\n")
        assert current_digest(str(path)) == sha256_file(path)
    mtime = same_time.stat().st_mtime_ns
    same_size.write_text("y,2\n")
    os.utime(same_size, ns=(mtime + 10**9, mtime + 10**9))
    same_time.write_text("x,1\ny,2\n")
    os.utime(same_time, ns=(mtime, mtime))
    for path in (same_size, same_time):
        assert current_digest(str(path)) == sha256_file(path)
    assert current_digest(str(tmp_path / "gone.csv")) is None


def test_every_changed_annotation_file_is_named(tmp_path: Path) -> None:
    files = {}
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text(name)
        files[str(tmp_path / name)] = sha256_file(tmp_path / name)
    assert files_verdict(files) == (RunState.DONE, None)
    (tmp_path / "a.csv").write_text("changed")
    (tmp_path / "c.csv").write_text("changed too")
    assert files_verdict(files) == (RunState.STALE, f"{CHANGED_FILES}a.csv, c.csv")


def test_a_verdict_checks_the_record_first_then_its_revision_then_its_files(
    tmp_path: Path,
) -> None:
    """Failed beats stale, a revision that changed beats the files, unchanged files leave it
    done."""
    spec = {"model": {"name": "omniclip"}, "protocol": "eval_only"}
    labels = tmp_path / "test1.csv"
    labels.write_text("v.mp4,0\n")
    record = {
        **RECORD,
        "spec": spec,
        COMPUTED_BY: computed_by(spec),
        "files": {str(labels): sha256_file(labels)},
    }
    assert record_verdict(record) == verdict(record) == (RunState.DONE, None)
    labels.write_text("v.mp4,1\n")
    assert record_verdict(record) == (RunState.DONE, None)  # the record alone
    assert verdict(record) == (RunState.STALE, f"{CHANGED_FILES}test1.csv")
    older = {key: value for key, value in record.items() if key != COMPUTED_BY}
    assert verdict(older) == (RunState.STALE, NO_RECORD)
    diverged = {**older, "metrics": {"top1": float("nan")}}
    assert verdict(diverged) == (
        RunState.FAILED,
        "record.json unusable: metric top1 is not a number (nan)",
    )


def test_an_unusable_run_names_its_first_problem_and_counts_the_rest() -> None:
    one = {"run_id": "r1", "metrics": {"top1": float("inf")}}
    with pytest.raises(UnusableRunError) as caught:
        check_record(one)
    assert str(caught.value) == "run r1: metric top1 is not a number (inf)"
    three = {
        **one,
        "evaluations": [
            {"dataset": "d", "split": "s", "videos": 0, "skipped": 2},
            {"dataset": "d", "split": "t", "videos": 4, "skipped": 0, "nonfinite": 4},
        ],
    }
    with pytest.raises(UnusableRunError) as caught:
        check_record(three)
    assert str(caught.value) == (
        "run r1: d/s: 0 videos evaluated (2 of 2 (100%) skipped as broken) (and 2 more problem(s))"
    )
    two = {**one, "evaluations": three["evaluations"][1:]}
    with pytest.raises(UnusableRunError) as caught:
        check_record(two)
    assert str(caught.value) == (
        "run r1: d/t: the model's scores are not finite for 4 of 4 videos (a diverged model) "
        "(and 1 more problem(s))"
    )
    check_record({"run_id": "r1", "metrics": {"top1": 0.0}})  # no problem: no error


def test_a_records_skipped_videos_and_what_each_part_listed() -> None:
    """Eval: listed = evaluated + skipped over every evaluation (absent fields count 0); train:
    its recorded list size, or unknown (None) in records that lack it."""
    record = {
        "skipped_videos": {"train": 3, "eval": 2},
        "evaluations": [{"videos": 14, "skipped": 1}, {"videos": 7}, {"skipped": 1}],
        "train": {"videos": 40},
    }
    assert skipped(record) == Skipped(train=3, train_listed=40, eval=2, eval_listed=23)
    assert skipped(
        {"skipped_videos": {"eval": 1}, "evaluations": [{"videos": 5, "skipped": 1}]}
    ) == (Skipped(train=0, train_listed=None, eval=1, eval_listed=6))
    nulls = {"skipped_videos": None, "evaluations": None, "train": None, "run_id": "r"}
    assert skipped(nulls) == skipped({}) == skipped(None) == Skipped(0, None, 0, 0)


def test_training_problems_name_the_first_diverged_epoch_and_skip_what_is_unknown() -> None:
    """An epoch without a loss is not a divergence; the first non-finite loss is named; a run
    without epochs trained nothing to judge; an unknown training list size has no share."""
    history = [{"loss": 1.2, "epoch": 1}, {"epoch": 2}, {"loss": math.nan, "epoch": 3}]
    history.append({"loss": math.inf, "epoch": 4})
    train = {"split": "hmdb51/train1", "videos": 40, "clips": 40, "epochs": 4, "history": history}
    assert record_problems({"train": train}) == [
        "training split hmdb51/train1: training diverged, loss nan in epoch 3; "
        "lower optim.lr or use fp32"
    ]
    assert record_problems({"train": {"epochs": 1, "clips": 0}}) == [
        "training split: trained on 0 videos (0 of 0 skipped as broken; see log.txt)"
    ]
    unknown = {"train": {"epochs": 1, "clips": 5}, "skipped_videos": {"train": 1}}
    assert record_problems(unknown) == []
    assert record_problems({"train": {"videos": 9, "clips": 0, "epochs": 0}}) == []


def test_evaluation_problems_name_the_first_broken_video_and_default_absent_counts_to_0() -> None:
    evaluations = [
        {"dataset": "d", "split": "s", "videos": 0, "skipped": 2, "first_skipped": "v1.mp4"},
        {"dataset": "d", "split": "t", "videos": 6, "skipped": 2, "first_skipped": "v3.mp4"},
        {"dataset": "d", "split": "u", "skipped": 1},
        {"dataset": "d", "split": "v", "videos": 5},
    ]
    assert record_problems({"evaluations": evaluations}) == [
        "d/s: 0 videos evaluated (2 of 2 (100%) skipped as broken; first: v1.mp4)",
        "d/t: 2 of 8 (25%) videos skipped as broken, more than max_skipped 1%; first: v3.mp4; "
        "fix the data or raise max_skipped in the suite",
        "d/u: 0 videos evaluated (1 of 1 (100%) skipped as broken)",
    ]
