"""make mutation's selection (tools/mutation_selection.py): one list of modules in pyproject.toml,
tests found by what they import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def selection() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mutation_selection", ROOT / "tools" / "mutation_selection.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutation_selection", module)
    spec.loader.exec_module(module)
    return module


def test_every_listed_module_has_a_selected_test(selection: ModuleType) -> None:
    assert selection.uncovered() == []
    assert all(
        (ROOT / Path(*m.split("."))).with_suffix(".py").is_file() for m in selection.modules()
    )


def test_every_narrowing_pattern_names_a_function_of_a_listed_module(selection: ModuleType) -> None:
    assert selection.unknown_functions() == []


def test_no_selected_function_is_one_mutmut_leaves_unmutated(
    selection: ModuleType, tmp_path: Path
) -> None:
    """mutmut skips decorated functions without a word: view fusion (``@torch.no_grad()``) and
    the metrics (``@property``) were never mutated. Selected functions stay undecorated; a lone
    ``@staticmethod`` or ``@classmethod`` is mutated."""
    assert selection.unmutated_functions() == []
    cells = (  # a protocol's `...` stub has nothing to mutate
        "import torch\n@torch.no_grad()\ndef pool(): return 1\ndef gone(): return 2\n"
        "class Cell:\n    @property\n    def mean(self): return 3\n"
        "    @staticmethod\n    def std(): return 4\n    @property\n    def rows(self): ...\n"
    )
    root = _tree(tmp_path, {"omnibench/report/cells.py": cells}, ["omnibench/report/cells.py"])
    assert selection.unmutated_functions(root) == [
        "omnibench.report.cells: Cell.mean",
        "omnibench.report.cells: pool",
    ]


def test_the_modules_that_decide_a_reported_number_or_a_refusal_are_listed(
    selection: ModuleType,
) -> None:
    listed = set(selection.modules())
    for module in (
        "omnibench.engine.metrics",  # top-1 / top-5 / mean-class; mean ± std over splits, subsets
        "omnibench.report.cells",  # pooling of seeds / samplings, deltas
        "omnibench.report.pooling",  # what one cell may average (also checked by validate)
        "omnibench.report.stats",  # bootstrap intervals, McNemar
        "omnibench.report.paired",  # the ≈ mark
        "omnibench.protocols.leakage",
        "omnibench.store.acceptance",
        "omnibench.protocols.zero_shot",
        "omnibench.protocols.base_to_novel",
    ):
        assert module in listed


def _tree(root: Path, files: dict[str, str], listed: list[str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    only = ", ".join(f'"{path}"' for path in listed)
    (root / "pyproject.toml").write_text(
        f"[tool.mutmut]\nonly_mutate = [{only}]\n"
        "[tool.omnibench.mutation.functions]\n"
        '"omnibench/report/cells.py" = ["pool", "Cell.mean", "gone"]\n'
    )
    return root


def test_tests_are_found_through_their_package_and_a_split_file_stays_in(
    selection: ModuleType, tmp_path: Path
) -> None:
    root = _tree(
        tmp_path,
        {
            "omnibench/__init__.py": "",
            "omnibench/report/__init__.py": "",
            "omnibench/report/cells.py": "def pool(): ...\nclass Cell:\n    def mean(self): ...\n",
            "omnibench/report/build.py": "from omnibench.report.cells import pool\n",
            "omnibench/report/facade.py": (
                'import importlib\nM = importlib.import_module("omnibench.report.build")\n'
            ),
            "omnibench/cli/__init__.py": "from omnibench.report import build\n",
            "omnibench/guard.py": "",
            "tests/report/test_build.py": "from omnibench.report.build import pool\n",
            "tests/report/test_facade.py": "from omnibench.report.facade import M\n",
            "tests/cli/test_cli.py": "from omnibench.cli import main\n",
        },
        ["omnibench/report/cells.py", "omnibench/guard.py"],
    )
    selected = {k: sorted(v) for k, v in selection.selected_tests(root).items()}
    assert selected == {
        "tests/report/test_build.py": ["omnibench.report.cells"],
        "tests/report/test_facade.py": ["omnibench.report.cells"],
    }
    assert selection.uncovered(root) == ["omnibench.guard"]
    assert selection.unknown_functions(root) == ["omnibench.report.cells: gone"]
    assert selection.mutant_globs(root) == [
        "omnibench.report.cells.x_pool__*",
        "omnibench.report.cells.xǁCellǁmean__*",
        "omnibench.report.cells.x_gone__*",
        "omnibench.guard.*",
    ]


def test_lazy_names_are_followed_as_omnibench_loads_them(
    selection: ModuleType, tmp_path: Path
) -> None:
    """``registry.load("module:name")``, ``lazy_exports`` short names in a package's
    ``__init__`` and declarations found by ``pkgutil.iter_modules`` and a name suffix."""
    root = _tree(
        tmp_path,
        {
            "omnibench/__init__.py": "",
            "omnibench/models/__init__.py": (
                "import pkgutil\nfor m in pkgutil.iter_modules(__path__):\n"
                '    if m.name.endswith("_config"): ...\n'
                'G = lazy_exports(__name__, {"MODELS": "registry"})\n'
            ),
            "omnibench/models/registry.py": "",
            "omnibench/models/omniclip_config.py": 'X = "omnibench.models.omniclip:OmniCLIP"\n',
            "omnibench/models/omniclip.py": "",
            "omnibench/models/xclip.py": "",
            "tests/models/test_models.py": "from omnibench.models import MODELS\n",
        },
        [
            "omnibench/models/omniclip.py",
            "omnibench/models/registry.py",
            "omnibench/models/xclip.py",
        ],
    )
    selected = {k: sorted(v) for k, v in selection.selected_tests(root).items()}
    assert selected == {
        "tests/models/test_models.py": ["omnibench.models.omniclip", "omnibench.models.registry"]
    }
    assert selection.uncovered(root) == ["omnibench.models.xclip"]


def test_pytest_option_keeps_only_the_selected_files() -> None:
    """test_ci.py imports no omnibench module: --mutation-selection leaves it out."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--mutation-selection"]
        + ["tests/engine/test_metrics.py", "tests/project/test_ci.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    files = {line.split("::")[0] for line in run.stdout.splitlines() if "::" in line}
    assert files == {"tests/engine/test_metrics.py"}, run.stdout + run.stderr
    assert "deselected" in run.stdout
