"""Sections many entries hold alike are written once and read back as one object."""

from __future__ import annotations

import json

import pytest

from omnibench.store.shared_sections import share, unshare

MODEL = {"name": "omniclip", "options": {"ratio": 0.25}}


def test_values_held_alike_are_written_once_and_read_back_as_one_object() -> None:
    sections = {
        "run-a": {"spec.model": MODEL, "metrics": {"top1": 50.0}},
        "run-b": {"spec.model": dict(MODEL), "metrics": {"top1": 75.0}},
        "run-c": {"spec.model": {"name": "xclip"}, "metrics": {"top1": 50.0}},
    }
    table, refs = share(json.loads(json.dumps(sections)))  # as a file would hold them
    # held by two runs each: the model of a and b, the metrics of a and c; xclip's model and b's
    # metrics by one run only, so they stay in their entries
    assert sorted(map(json.dumps, table)) == sorted(map(json.dumps, [MODEL, {"top1": 50.0}]))
    assert refs["run-a"] == {
        "spec.model": refs["run-b"]["spec.model"],
        "metrics": refs["run-c"]["metrics"],
    }
    assert refs["run-b"].keys() == {"spec.model"} and refs["run-c"].keys() == {"metrics"}
    back = {run: unshare(numbers, table) for run, numbers in refs.items()}
    assert back["run-a"]["spec.model"] == MODEL and back["run-a"]["metrics"] == {"top1": 50.0}
    assert back["run-a"]["spec.model"] is back["run-b"]["spec.model"]  # one object, made once
    assert back["run-a"]["metrics"] is back["run-c"]["metrics"]


def test_every_value_is_shared_when_one_holder_is_enough() -> None:
    table, refs = share({"a": {"files": {"x.txt": "1"}}, "b": {"files": {"y.txt": "2"}}}, 1)
    assert table == [{"x.txt": "1"}, {"y.txt": "2"}]
    assert refs == {"a": {"files": 0}, "b": {"files": 1}}


@pytest.mark.parametrize(
    "refs", [None, 3, ["files", 0], {"files": 2}, {"files": -1}, {"files": True}, {"files": "0"}]
)
def test_refs_that_share_did_not_write_are_refused(refs: object) -> None:
    with pytest.raises(ValueError, match="shared sections"):
        unshare(refs, [{"x.txt": "1"}, {"y.txt": "2"}])
