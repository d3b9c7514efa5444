"""docs/ARCHITECTURE.md's layer table, import-linter's `layers` contract (pyproject.toml) and the
package tree say the same: every package and top-level module of omnibench is in one layer, in the
same order in both (the contract itself is checked by `lint-imports`, in `make lint`); and the
tests mirror that tree (docs/TESTING.md, "Where tests live")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "omnibench"
TESTS = ROOT / "tests"
NOT_PACKAGES = {"end_to_end", "project"}  # across packages through the CLI; the repository itself


def _doc_layers() -> list[set[str]]:
    """The "## Layers" table's rows, top first, as sets of module names."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    layers = []
    for row in rows:
        cell = row.split("|")[3]  # | layer | what it is | modules |
        paths = re.findall(r"`(omnibench/[^`]*)`", cell)
        assert paths, f"docs/ARCHITECTURE.md: a layer row names no module: {row}"
        layers.append({p.removesuffix("/").removesuffix(".py").replace("/", ".") for p in paths})
    return layers


def _contract_layers() -> list[set[str]]:
    """The `layers` contract's layers, top first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["type"] == "layers"]
    return [{m.strip() for m in re.split(r"[|:]", layer)} for layer in contract["layers"]]


def _packages() -> set[str]:
    """omnibench's subpackages, by folder name."""
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def _modules() -> set[str]:
    """omnibench's top-level modules (not its __init__), by file stem."""
    return {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def _tree() -> set[str]:
    """Every subpackage and top-level module of omnibench (not its __init__)."""
    return {f"omnibench.{name}" for name in _packages() | _modules()}


def test_doc_table_is_the_contract_in_its_order() -> None:
    assert _doc_layers() == _contract_layers()


def test_every_package_is_in_one_layer_and_every_layer_exists() -> None:
    layers = _contract_layers()
    named = [m for layer in layers for m in layer]
    assert len(named) == len(set(named)), "a module is in two layers"
    assert set(named) == _tree()


def test_layers_read_from_the_top() -> None:
    """The table and the contract start at the entry point and end at the errors everything
    raises (a table read upside down would still match the contract otherwise)."""
    layers = _contract_layers()
    assert layers[0] == {"omnibench.__main__"}
    assert layers[-1] == {"omnibench.errors"}


def test_the_tests_mirror_the_packages() -> None:
    """Each folder of tests/ names a package of omnibench (or one of the two that name none), and
    each test file at the top of tests/ a top-level module (``test_process_stops.py``: process).
    Each folder is a package, so that two folders may hold files of the same name."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - NOT_PACKAGES <= _packages(), "a tests/ folder names no package of omnibench"
    assert NOT_PACKAGES <= folders
    assert all((TESTS / f / "__init__.py").is_file() for f in folders), "a folder is no package"
    for test in TESTS.glob("test_*.py"):
        name = test.stem.removeprefix("test_")
        assert any(name == m or name.startswith(m + "_") for m in _modules()), test.name
