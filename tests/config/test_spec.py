"""RunSpec identity: fields added later leave the run ids of earlier runs unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnibench.config.spec import RunSpec, SpecError
from omnibench.store.run_store import RunStore, atomic_write_json

# The id of this spec before ``limit`` and ``max_skipped`` existed (stores hold runs under it).
EARLIER_ID = "ea6dc504fb68"


def _spec(**changes: object) -> RunSpec:
    return RunSpec.from_dict({"protocol": "few_shot", "dataset": "hmdb51", **changes})


def test_neutral_values_keep_earlier_run_ids_and_others_change_them() -> None:
    assert _spec().run_id() == EARLIER_ID
    assert _spec(limit=None, max_skipped=0.01).run_id() == EARLIER_ID
    assert len({EARLIER_ID, _spec(limit=2).run_id(), _spec(max_skipped=0.2).run_id()}) == 3
    full = _spec(limit=3).to_dict()
    assert (
        full["limit"] == 3 and full["max_skipped"] == 0.01
    )  # recorded in spec.json and record.json
    assert RunSpec.from_dict(full) == _spec(limit=3)


def test_data_hflip_and_augment_at_their_defaults_keep_earlier_run_ids() -> None:
    """Stored runs are found under their ids (and judged stale by what computed them) after
    ``data.hflip`` and ``data.augment`` were added; other values are other runs."""
    data = {"frames": 8, "hflip": None, "augment": "fused"}
    assert _spec(data=data).run_id() == _spec(data={"frames": 8}).run_id()
    assert _spec(data={"hflip": None, "augment": "fused"}).run_id() == EARLIER_ID
    assert "hflip" in _spec().to_dict()["data"] and "augment" in _spec().to_dict()["data"]
    others = {_spec(data={"hflip": False}).run_id(), _spec(data={"augment": "stepwise"}).run_id()}
    assert len(others | {EARLIER_ID}) == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"limit": 0}, "limit: must be an integer >= 1"),
        ({"limit": True}, "expected int"),
        ({"limit": 2.5}, "expected int"),
        ({"max_skipped": 1.5}, r"max_skipped: must be a share in \[0, 1\]"),
        ({"max_skipped": -0.1}, r"max_skipped: must be a share in \[0, 1\]"),
    ],
)
def test_limit_and_max_skipped_are_validated(changes: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(**changes)


def test_a_run_stored_before_the_new_fields_is_the_same_run(tmp_path: Path) -> None:
    store, spec = RunStore(tmp_path), _spec()
    run_dir = store.prepare("s", spec)
    earlier = {k: v for k, v in spec.to_dict().items() if k not in ("limit", "max_skipped")}
    atomic_write_json(
        run_dir / "spec.json", earlier
    )  # as written by omnibench before the fields existed
    assert store.prepare("s", spec) == run_dir
    assert json.loads((run_dir / "spec.json").read_text()) == earlier
