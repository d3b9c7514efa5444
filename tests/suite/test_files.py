"""Every suite in suites/ validates; registry checks point at the suite line with a did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnibench.checks.suite import check_suite
from omnibench.cli import main
from omnibench.errors import OmniBenchError
from omnibench.suite.files import BUILTIN_SUITES, suite_files
from omnibench.suite.load import load_suite

PAPER_SUITES = {
    "supervised": "table2",
    "few-shot": "table5",
    "zero-shot": "table6",
    "ablation-modules": "table7",
    "ablation-ratio": "table8",
    "ablation-prompt": "table9",
    "ablation-location": "table10",
    "ablation-combination": "table11",
    "demo": None,
}


@pytest.fixture()
def no_declared_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty datasets.yaml of the user; returns its path."""
    config = tmp_path / "datasets.yaml"
    config.write_text("{}\n")
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(config))
    return config


def test_the_paper_suites_exist() -> None:
    files = suite_files()
    assert set(PAPER_SUITES) <= set(files)
    for name, table in PAPER_SUITES.items():
        assert load_suite(name).table.paper_table == table


@pytest.mark.parametrize("path", sorted(suite_files().values()), ids=lambda p: p.stem)
def test_every_suite_file_validates(path: Path, no_declared_datasets: Path) -> None:
    suite = load_suite(path)
    assert suite.specs and suite.name == path.stem
    check_suite(suite, require_data=False)
    if not suite.external_datasets:
        check_suite(suite)
        return
    with pytest.raises(
        OmniBenchError,
        match=r"unknown dataset 'k400_tiny'.*declare other datasets in .*k400_tiny: \{format: list",
    ):
        check_suite(suite)  # running needs the user's declaration
    no_declared_datasets.write_text("k400_tiny: {format: list, root: /data/k400_tiny}\n")
    check_suite(suite)


def test_validate_command_names_what_to_declare(
    no_declared_datasets: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv(
        "HF_HUB_OFFLINE", raising=False
    )  # a login node: open_clip may download the weights
    data = no_declared_datasets.parent / "data"
    for dataset in ("hmdb51", "ucf101", "k400", "k600", "ssv2"):
        (data / dataset).mkdir(parents=True)
    monkeypatch.setenv("OMNIBENCH_DATA", str(data))
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert all(f"ok  {name}:" in out for name in PAPER_SUITES)
    assert out.count("to run it, declare k400_tiny") == 5
    bad = no_declared_datasets.parent / "bad.yaml"
    bad.write_text(
        (BUILTIN_SUITES / "few-shot.yaml")
        .read_text()
        .replace("name: few-shot", "name: bad")
        .replace("ucf101]", "ucf11]")
    )
    assert main(["validate", str(bad), "zero-shot"]) == 2
    out = capsys.readouterr().out
    assert (
        f"{bad}:" in out
        and "unknown dataset 'ucf11' (did you mean 'ucf101'?)" in out
        and "ok  zero-shot" in out
    )


def test_expected_run_counts() -> None:
    counts = {name: len(load_suite(name).specs) for name in PAPER_SUITES if name != "demo"}
    assert counts == {
        "supervised": 4 * 3 + 1,  # + Table 3's 16-frame OmniCLIP row on SSv2
        "few-shot": 2 * 4 * 3 + 2,
        "zero-shot": 4,
        "ablation-modules": 2 * 4,
        "ablation-ratio": 2 * 4,
        "ablation-prompt": 2 * 4,
        "ablation-location": 2 * 5,
        "ablation-combination": 2 * 3,
    }


SUITE = """\
name: check
description: registry checks
table: {paper_table: null, title: t, layout: grid, rows: [model.name], columns: [dataset], \
metrics: [top1]}
base:
  protocol: few_shot
  model: {backbone: omnibench-tiny-vit, pretrained: null}
grid:
  dataset: [synthetic]
  model.name: [omniclip, vificlip]
overrides:
  - when: {model.name: omniclip}
    set: {model.options.ratio: 0.5}
"""

REGISTRY_ERRORS = [
    (
        "dataset: [synthetic]",
        "dataset: [synthetc]",
        8,
        "dataset: unknown dataset 'synthetc' (did you mean 'synthetic'?)",
    ),
    (
        "model.name: [omniclip, vificlip]",
        "model.name: [omniclip, vifiklip]",
        9,
        "model.name: unknown model 'vifiklip' (did you mean 'vificlip'?)",
    ),
    (
        "protocol: few_shot",
        "protocol: fewshot",
        5,
        "protocol: unknown protocol 'fewshot' (did you mean 'few_shot'?)",
    ),
    (
        "model.options.ratio: 0.5",
        "model.options.ratoi: 0.5",
        12,
        "unknown key 'model.options.ratoi' (did you mean 'ratio'?)",
    ),
    (
        "model.options.ratio: 0.5",
        "model.options.ratio: 2.0",
        12,
        "model.options.ratio: must be in (0, 1]",
    ),
    (
        "  model: {backbone",
        "  protocol_options: {shots: 0}\n  model: {backbone",
        6,
        "protocol_options.shots: must be >= 1",
    ),
    (
        "  model: {backbone",
        "  protocol_options: {shot: 2}\n  model: {backbone",
        6,
        "unknown key 'protocol_options.shot' (did you mean 'shots'?)",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "message"), REGISTRY_ERRORS, ids=[e[1][:28] for e in REGISTRY_ERRORS]
)
def test_registry_errors_name_the_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    path = tmp_path / "check.yaml"
    path.write_text(SUITE.replace(old, new))
    suite = load_suite(path)
    with pytest.raises(OmniBenchError) as info:
        check_suite(suite)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)
