"""A stored result never outlives the code that made it: records say which model and protocol
revisions (and which resolved options) computed them, and a record that today's code would
compute otherwise is stale in ``status``, ``--dry-run`` and ``report``, and rerun by ``run``.

Real runs through the CLI (inline executor): frozen random-init CLIP evaluated on generated
videos, two seeds. A new revision or a changed option default is made by swapping the model's
declaration, as a code change would."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.config.protocols import PROTOCOLS
from omnibench.models.declaration import DECLARED
from omnibench.models.vanilla_config import VanillaOptions
from omnibench.store.revisions import NO_RECORD, computed_by, stale_reason
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import load_suite
from tests.conftest import TinyData, cpu_options, tiny_suite_text

SUITE = tiny_suite_text(
    "made",
    description="two frozen CLIPs, one per seed",
    columns="protocol",
    base=["protocol_options: {splits: [test1]}"],
    tail="seeds: [1, 2]\ngrid:\n  model.name: [vanilla_clip]\n",
)


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    return captured.out + captured.err


def _next_revision(monkeypatch: pytest.MonkeyPatch, note: str) -> None:
    """vanilla_clip as if its code had changed: one more revision."""
    declaration = DECLARED.get("vanilla_clip")
    changed = dataclasses.replace(declaration, revisions=(*declaration.revisions, note))
    monkeypatch.setitem(DECLARED._items, "vanilla_clip", changed)


def _made(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, RunStore, list[str]]:
    """The suite run once into a fresh store: its file, the store and the ``run`` arguments."""
    suite = tmp_path / "made.yaml"
    suite.write_text(SUITE)
    store = RunStore(tmp_path / "results")
    run = ["run", str(suite), "--results", str(store.root), *cpu_options(data_root)]
    _cli(capsys, *run)
    return suite, store, run


def _states(capsys: pytest.CaptureFixture[str], suite: Path, store: Path) -> dict[str, tuple]:
    rows = json.loads(_cli(capsys, "status", str(suite), "--results", str(store), "--json"))
    return {row["run_id"]: (row["state"], row["error"]) for row in rows}


def test_a_store_holding_two_revisions_of_a_model(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    suite, store, run = _made(tmp_path, data_root, capsys)
    first, second = (spec.run_id() for spec in load_suite(suite).specs)
    revision = DECLARED.get("vanilla_clip").revision
    assert store.read_record("made", first)["computed_by"] == {
        "model": {
            "name": "vanilla_clip",
            "revision": revision,
            "options": {"input_size": None, "template": "a photo of a {}.", "activation": None},
        },
        "protocol": {
            "name": "eval_only",
            "revision": PROTOCOLS.get("eval_only").revision,
            "options": {
                **computed_by({"protocol": "eval_only"})["protocol"]["options"],
                "splits": ["test1"],
            },
        },
    }

    _next_revision(monkeypatch, "frame features averaged differently")
    suite.write_text(SUITE.replace("seeds: [1, 2]", "seeds: [2]"))  # seed 2 with the new revision
    store.clear("made", second)
    _cli(capsys, *run)
    suite.write_text(SUITE)  # the store now holds both revisions
    assert store.read_record("made", second)["computed_by"]["model"]["revision"] == revision + 1
    reason = (
        f"made by model vanilla_clip revision {revision}, now revision {revision + 1}: "
        "frame features averaged differently"
    )
    assert _states(capsys, suite, store.root) == {first: ("stale", reason), second: ("done", None)}

    dry = _cli(capsys, *run, "--dry-run")
    assert f"rerun ({reason})" in dry and "1 would execute" in dry
    report = " ".join(_cli(capsys, "report", str(suite), "--results", str(store.root)).split())
    assert "1 done, 1 stale" in report and "1 stale run: " in report
    assert f"Computed by models vanilla_clip r{revision + 1}; protocols eval_only r" in report
    (table,) = json.loads(
        _cli(capsys, "report", str(suite), "--results", str(store.root), "--json")
    )
    (cell,) = table["cells"]
    top1 = store.read_record("made", second)["metrics"]["top1"]
    assert cell["n"] == 1 and cell["mean"] == pytest.approx(top1)  # the stale run: not pooled

    _cli(capsys, *run)
    assert set(_states(capsys, suite, store.root).values()) == {("done", None)}
    assert store.read_record("made", first)["computed_by"]["model"]["revision"] == revision + 1


def test_a_changed_option_default_and_an_older_store_make_runs_stale(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The spec of a default run says ``options: {}`` before and after a default changes, so the
    run id stays; the record's resolved options tell the runs apart. A record written before
    omnibench recorded any of this is stale with its own reason."""
    suite, store, run = _made(tmp_path, data_root, capsys)
    first, second = (spec.run_id() for spec in load_suite(suite).specs)
    older = store.read_record("made", second)
    del older["computed_by"]
    atomic_write_json(store.run_dir("made", second) / "record.json", older)

    @dataclasses.dataclass(frozen=True)
    class Plainer(VanillaOptions):
        template: str = "{}"

    declaration = DECLARED.get("vanilla_clip")
    monkeypatch.setitem(
        DECLARED._items, "vanilla_clip", dataclasses.replace(declaration, options=Plainer)
    )
    assert load_suite(suite).specs[0].run_id() == first  # the id alone cannot tell
    states = _states(capsys, suite, store.root)
    assert states[first] == (
        "stale",
        "model vanilla_clip options resolve differently now: template 'a photo of a {}.' -> '{}'",
    )
    assert states[second] == ("stale", NO_RECORD)
    assert stale_reason(store.read_record("made", second)) == NO_RECORD
