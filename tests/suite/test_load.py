"""Suite files: expansion, overrides, stable run ids, errors with file:line + did-you-mean."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.suite.defaults import flat_defaults
from omnibench.suite.files import resolve_suite
from omnibench.suite.load import load_suite

SUITE = """\
name: {name}
description: Few-shot top-1 on two datasets
table:
  paper_table: table5
  title: Few-shot top-1 (%)
  layout: grid
  rows: [model.name]
  columns: [dataset, protocol_options.shots]
  metrics: [top1]
base:
  protocol: few_shot
  model: {{backbone: ViT-B-16, pretrained: openai, options: {{ratio: 0.25}}}}
  data: {{frames: 32}}
grid:
  - dataset: [hmdb51, ucf101]
    protocol_options.shots: [2, 4, 8, 16]
    model.name: [omniclip, xclip, vificlip]
  - dataset: [hmdb51, ucf101]
    model.name: [clip]
    protocol: [eval_only]
overrides:
  - when: {{model.name: xclip}}
    set: {{optim.new_module_lr_mult: 10, optim.lr: 2.0e-6}}
  - when: {{model.name: omniclip, dataset: [hmdb51]}}
    set: {{model.options: {{blocks: [0, 1]}}}}
"""


def _write(tmp_path: Path, text: str = SUITE, name: str = "few") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.format(name=name) if "{name}" in text else text)
    return path


def test_grid_expands_to_the_union_of_cartesian_products(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path))
    assert (suite.name, suite.description) == ("few", "Few-shot top-1 on two datasets")
    assert len(suite.specs) == 2 * 4 * 3 + 2
    first = suite.specs[0]
    assert (first.dataset, first.protocol_options["shots"], first.model.name) == (
        "hmdb51",
        2,
        "omniclip",
    )
    assert suite.specs[1].model.name == "xclip"  # the last axis varies fastest
    assert [s.protocol for s in suite.specs[-2:]] == ["eval_only", "eval_only"]
    assert all(s.data.frames == 32 and s.model.backbone == "ViT-B-16" for s in suite.specs)
    assert suite.table.rows == ("model.name",) and suite.table.columns == (
        "dataset",
        "protocol_options.shots",
    )
    assert suite.table.paper_table == "table5" and suite.table.metrics == ("top1",)


def test_overrides_set_and_merge(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path))
    xclip = [s for s in suite.specs if s.model.name == "xclip"]
    assert {(s.optim.lr, s.optim.new_module_lr_mult) for s in xclip} == {(2e-6, 10.0)}
    vifi = [s for s in suite.specs if s.model.name == "vificlip"]
    assert {s.optim.lr for s in vifi} == {
        flat_defaults("few_shot", "hmdb51", "vificlip")["optim.lr"]
    }
    omni = {s.dataset: dict(s.model.options) for s in suite.specs if s.model.name == "omniclip"}
    assert omni == {"hmdb51": {"ratio": 0.25, "blocks": [0, 1]}, "ucf101": {"ratio": 0.25}}


def test_paper_defaults_lie_beneath_what_the_suite_sets(tmp_path: Path) -> None:
    text = SUITE.replace("data: {{frames: 32}}", "data: {{frames: 16}}\n  optim: {{epochs: 3}}")
    suite = load_suite(_write(tmp_path, text))
    for spec in suite.specs:
        defaults = flat_defaults(spec.protocol, spec.dataset, spec.model.name)
        assert (spec.data.frames, spec.optim.epochs) == (16, 3)  # the suite wins
        expected = {k: v for k, v in defaults.items() if k not in ("data.frames", "optim.epochs")}
        if spec.model.name == "xclip":
            expected["optim.lr"] = 2e-6  # the override wins
        flat = {
            f"{section}.{key}": value
            for section in ("optim", "data")
            for key, value in spec.to_dict()[section].items()
        }
        assert {k: flat[k] for k in expected} == expected


def test_axes_and_labels_tell_runs_apart(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path))
    assert suite.axes[:4] == ("dataset", "protocol_options.shots", "model.name", "protocol")
    labels = [tuple(sorted(map(repr, suite.labels(s).items()))) for s in suite.specs]
    assert len(set(labels)) == len(suite.specs)
    assert suite.where(suite.specs[1], "optim.lr").endswith("few.yaml:23")
    assert suite.where(suite.specs[0], "protocol_options.shots").endswith("few.yaml:16")


def test_run_ids_are_stable_across_formatting_and_processes(tmp_path: Path) -> None:
    ids = [s.run_id() for s in load_suite(_write(tmp_path)).specs]
    assert len(set(ids)) == len(ids)
    reordered = SUITE.replace(
        "  model: {{backbone: ViT-B-16, pretrained: openai, "
        "options: {{ratio: 0.25}}}}\n  data: {{frames: 32}}",
        "  data:\n    frames: 32\n  model:\n    options:\n      "
        "ratio: 0.25\n    pretrained: openai\n    backbone: ViT-B-16",
    )
    other = tmp_path / "other"
    other.mkdir()
    assert [s.run_id() for s in load_suite(_write(other, reordered, "few")).specs] == ids
    code = (
        "import sys; from omnibench.suite.load import load_suite; "
        "print(' '.join(s.run_id() for s in load_suite(sys.argv[1]).specs))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "few.yaml")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.split() == ids
    changed = load_suite(_write(other, SUITE.replace("frames: 32", "frames: 16"), "few"))
    assert not set(ids) & {s.run_id() for s in changed.specs}


def test_identical_runs_are_listed_once(tmp_path: Path) -> None:
    text = SUITE.replace("    model.name: [clip]\n", "    model.name: [omniclip]\n").replace(
        "protocol: [eval_only]", "protocol: [few_shot]"
    )
    text = text.replace(
        "    protocol_options.shots: [2, 4, 8, 16]\n", "    protocol_options: [{{}}]\n", 1
    )
    suite = load_suite(_write(tmp_path, text))
    assert len(suite.specs) == len({s.run_id() for s in suite.specs}) == 2 * 3


BAD_EDITS = [
    (
        "optim.lr: 2.0e-6",
        "optim.lrr: 2.0e-6",
        23,
        "unknown spec path 'optim.lrr' (did you mean 'optim.lr'?)",
    ),
    (
        "{{model.name: xclip}}",
        "{{model.name: xcip}}",
        22,
        "override matches no run: no run has model.name='xcip' (did you mean 'xclip'?)",
    ),
    ("frames: 32", "frames: 0", 13, "data.frames: must be >= 1 (run dataset=hmdb51"),
    ("frames: 32", "frames: many", 13, "data.frames: expected int, got 'many'"),
    ("description:", "descripton:", 2, "unknown key 'descripton' (did you mean 'description'?)"),
    (
        "layout: grid",
        "layout: gird",
        6,
        "layout 'gird' is not one of grid, supervised, zero_shot (did you mean 'grid'?)",
    ),
    (
        "  model: {{backbone",
        "  modell: {{backbone",
        12,
        "unknown spec path 'modell.backbone' (did you mean 'model.backbone'?)",
    ),
    (
        "shots: [2, 4, 8, 16]",
        "shots: [2, 4, 2]",
        16,
        "grid axis 'protocol_options.shots' lists 2 twice",
    ),
    (
        "shots: [2, 4, 8, 16]",
        "shots: 4",
        16,
        "grid axis 'protocol_options.shots' must be a non-empty list",
    ),
    (
        "rows: [model.name]",
        "rows: [model.nam]",
        7,
        "unknown spec path 'model.nam' (did you mean 'model.name'?)",
    ),
    (
        "  - when: {{model.name: xclip}}",
        "  - whn: {{model.name: xclip}}",
        22,
        "unknown key 'whn' (did you mean 'when'?)",
    ),
    (
        "  metrics: [top1]",
        "  metrics: top1",
        9,
        "'table.metrics' must be a non-empty list of strings",
    ),
    ("paper_table: table5", "paper_table: five", 4, "paper_table 'five' must look like 'table5'"),
    (
        "    model.name: [clip]",
        "    model.name.x: [clip]",
        19,
        "'model.name' is a value, not a mapping",
    ),
    ("  title: Few-shot top-1 (%)", "  title: [Few-shot", 6, "invalid YAML"),
    (
        "  data: {{frames: 32}}",
        "  data: {{frames: 32}}\n  seed: 1\n  seed: 2",
        15,
        "duplicate key 'seed' (first set on line 14)",
    ),
    ("  title: Few-shot top-1 (%)\n", "", 3, "'table.title' must be a non-empty string"),
    (
        "base:\n",
        "external_datasets: [k400_tiny]\nbase:\n",
        10,
        "'external_datasets' must map dataset names to descriptions",
    ),
    (
        "  metrics: [top1]\n",
        "  metrics: [top1]\n  reference: {{model.name: omniclp}}\n",
        10,
        "table.reference names no row of the suite; rows: model.name=omniclip; model.name=xclip;",
    ),
    (
        "  metrics: [top1]\n",
        "  metrics: [top1]\n  reference: {{dataset: hmdb51}}\n",
        10,
        "'table.reference' must map some of table.rows (model.name) to the values of the row",
    ),
    (
        "base:\n",
        "seeds: [0, 0]\nbase:\n",
        10,
        "'seeds' must be a non-empty list of distinct integers",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "message"), BAD_EDITS, ids=[e[1].strip()[:24] for e in BAD_EDITS]
)
def test_bad_suites_fail_with_file_line_and_hint(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in SUITE
    path = _write(tmp_path, SUITE.replace(old, new))
    with pytest.raises(OmniBenchError) as info:
        load_suite(path)
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text
    assert "\n" not in text


def test_seeds_run_every_setting_once_per_seed_and_the_reference_names_a_row(
    tmp_path: Path,
) -> None:
    text = SUITE.replace("base:\n", "seeds: [0, 1, 2]\nbase:\n").replace(
        "  metrics: [top1]\n", "  metrics: [top1]\n  reference: {{model.name: omniclip}}\n"
    )
    suite = load_suite(_write(tmp_path, text))
    plain = load_suite(_write(tmp_path, SUITE, "plain"))
    assert len(suite.specs) == 3 * len(plain.specs)
    assert sorted(
        s.seed
        for s in suite.specs
        if s.model.name == "xclip" and s.dataset == "ucf101" and s.protocol_options["shots"] == 2
    ) == [0, 1, 2]
    assert suite.axes[-1] == "seed" and suite.labels(suite.specs[1])["seed"] == 1
    assert suite.table.reference == {"model.name": "omniclip"}
    both = text.replace("    model.name: [clip]\n", "    model.name: [clip]\n    seed: [5]\n")
    with pytest.raises(
        OmniBenchError,
        match=r"few\.yaml:11: seeds are given both by 'seeds' and by a grid axis 'seed'",
    ):
        load_suite(_write(tmp_path, both))


def test_name_must_match_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, SUITE.format(name="other"), "few")
    with pytest.raises(
        OmniBenchError, match=r"few.yaml:1: name 'other' must equal the file name 'few'"
    ):
        load_suite(path)


def test_suites_resolve_by_name_with_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, name="my-suite")
    monkeypatch.setenv("OMNIBENCH_SUITES", str(tmp_path))
    assert resolve_suite("my-suite") == tmp_path / "my-suite.yaml"
    assert load_suite("my-suite").name == "my-suite"
    with pytest.raises(
        UnknownNameError, match="unknown suite 'my-suit' \\(did you mean 'my-suite'\\?\\)"
    ):
        resolve_suite("my-suit")
    with pytest.raises(OmniBenchError, match="suite file not found"):
        resolve_suite(str(tmp_path / "missing.yaml"))


def test_loading_a_suite_imports_no_torch(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys, time
        from omnibench.suite.load import load_suite
        start = time.perf_counter()
        suite = load_suite(sys.argv[1])
        print(len(suite.specs), "torch" in sys.modules, time.perf_counter() - start)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(_write(tmp_path))],
        capture_output=True,
        text=True,
        check=True,
    )
    count, torch_loaded, seconds = out.stdout.split()
    assert (count, torch_loaded) == ("26", "False")
    assert float(seconds) < 0.5


SUBSTITUTED = """\
name: sweep
description: axes that set one value each, beside axes that change the papers' defaults
table: {paper_table: null, title: t, layout: grid, rows: [model.name], columns: [dataset],
        metrics: [top1]}
base: {protocol: few_shot, model: {backbone: ViT-B-16, pretrained: openai}, optim: {min_lr: 0}}
seeds: [0, 1, 2]
grid:
  - dataset: [hmdb51, ucf101]
    model.name: [omniclip, xclip]
    optim.lr: [1.0e-5, 2.0e-5]
    protocol_options.shots: [2, 16]
    data_seed: [0, 1]
  - dataset: [hmdb51]
    model.options.ratio: [0.125, 0.5]
    optim.epochs: [1, 3]
    max_skipped: [0.01, 0.1]
overrides:
  - when: {model.name: xclip}
    set: {optim.new_module_lr_mult: 10}
  - when: {seed: 2}
    set: {optim.warmup_epochs: 0}
"""


@pytest.mark.parametrize("settings", [[], ["optim.lr=0.1"], ["seed=7", "limit=2"]])
@pytest.mark.parametrize("name", ["few-shot", "ablation-ratio", "demo", "sweep"])
def test_substituted_runs_are_the_runs_expanded_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, settings: list[str]
) -> None:
    """Runs made by replacing single-value axes (seeds, lr, shots; max_skipped, which leaves the
    run's identity at its default) in an expanded run are the runs a full expansion makes: specs,
    ids and canonical JSON, where each value was set, axes, order."""
    from omnibench.suite import grid as suite_grid
    from omnibench.suite.paths import parse_settings

    (tmp_path / "sweep.yaml").write_text(SUBSTITUTED)
    source = tmp_path / "sweep.yaml" if name == "sweep" else name

    def loaded() -> list[object]:
        suite = load_suite(source, parse_settings(settings))
        specs = [(s.run_id(), s.to_dict(), s.canonical_json()) for s in suite.specs]
        return [specs, dict(suite.origins), suite.axes, [suite.labels(s) for s in suite.specs]]

    fast = loaded()
    monkeypatch.setattr(suite_grid, "_substitutable", lambda *args, **kwargs: False)
    assert loaded() == fast


def test_a_substituted_value_that_does_not_fit_fails_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SUBSTITUTED.replace("name: sweep", "name: bad").replace("2.0e-5]", "-1]"))
    with pytest.raises(
        OmniBenchError, match=r"bad\.yaml:10: optim\.lr: must be > 0 .*optim\.lr=-1"
    ):
        load_suite(path)
