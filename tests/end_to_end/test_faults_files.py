"""Files omnibench writes follow the umask: colleagues read a shared store, reports and plots."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnibench.cli import main
from omnibench.data import MOTIONS, SynthConfig, generate_synthetic
from tests.conftest import cpu_options

SUITE = """\
name: shared
description: one tiny run whose every output is checked
table: {paper_table: null, title: shared, layout: grid, rows: [model.name], columns: [seed], \
metrics: [top1]}
base:
  protocol: supervised
  dataset: synthetic
  model: {name: omniclip, backbone: omnibench-tiny-vit, pretrained: null}
  data: {frames: 4, input_size: 32, short_side: 32}
  optim: {epochs: 1, batch_size: 3, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0, precision: fp32}
grid:
  seed: [1]
"""


@pytest.fixture()
def group_umask() -> Iterator[int]:
    """A group-writable umask (0o002), which neither the default (0o022) nor 0600 temp files
    give."""
    previous = os.umask(0o002)
    yield 0o002
    os.umask(previous)


def test_every_written_file_follows_the_umask(
    tmp_path: Path, group_umask: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    generate_synthetic(
        data / "synthetic",
        SynthConfig(classes=tuple(MOTIONS)[:3], videos_per_class=6, frames=8, size=32),
    )
    suite = tmp_path / "shared.yaml"
    suite.write_text(SUITE)
    results, reports = tmp_path / "results", tmp_path / "reports"
    code = main(["run", str(suite), "--results", str(results), *cpu_options(data)])
    assert code == 0, capsys.readouterr()
    code = main(
        [
            "report",
            str(suite),
            "--results",
            str(results),
            "--latex",
            str(reports / "t.tex"),
            "--markdown",
            str(reports / "t.md"),
            "--csv",
            str(reports / "csv"),
            "--plots",
            str(reports / "plots"),
        ]
    )
    assert code == 0, capsys.readouterr()
    written = {
        p.relative_to(tmp_path): stat.S_IMODE(p.stat().st_mode)
        for root in (results, reports, data)
        for p in root.rglob("*")
        if ".submitit" not in p.parts
    }
    names = {p.name for p in written}
    assert {
        "record.json",
        "spec.json",
        "status.json",
        "predictions.csv",
        "checkpoint.pt",
        "log.txt",
        "t.tex",
        "t.md",
        "labels.csv",
        "train.txt",
    } <= names
    assert any(p.suffix == ".png" for p in written) and any(p.parent.name == "csv" for p in written)
    expected = {True: 0o777 & ~group_umask, False: 0o666 & ~group_umask}
    wrong = {
        str(p): oct(mode)
        for p, mode in written.items()
        if mode != expected[(tmp_path / p).is_dir()]
    }
    assert wrong == {}
