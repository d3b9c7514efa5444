"""execution/acceptance.py's rules by hand: what counts as a run with skipped videos."""

from __future__ import annotations

from omnibench.execution.acceptance import Skipped


def test_a_run_with_a_skipped_video_in_either_part_counts_as_skipping() -> None:
    assert Skipped(train=2) and Skipped(eval=1) and not Skipped()
    assert Skipped(train=2, train_listed=9, eval=1, eval_listed=8).text() == "1/8 eval, 2/9 train"
    assert Skipped(train=2).text() == "2/? train"
