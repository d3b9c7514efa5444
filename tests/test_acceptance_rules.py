"""store/acceptance.py's rules by hand: skipped videos, their shares, the max_skipped limit,
metrics that are not numbers."""

from __future__ import annotations

from omnibench.store.acceptance import Skipped, record_problems, share_text, too_many_skipped


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
