"""What ``make mutation`` mutates and which tests it runs, derived from one list.

The list is ``only_mutate`` in pyproject.toml's ``[tool.mutmut]``: the modules that compute,
fuse, train toward, pool or compare a reported number, and the guards that decide what
omnibench refuses or counts as done. ``[tool.omnibench.mutation] functions`` narrows a listed
module to some of its functions (glob patterns on mutmut's names: ``name`` for a function,
``Class.name`` for a method); every other listed module is mutated whole.

The tests are found by what they import: a fast test file is selected for a listed module when
its imports, followed through the modules of that module's package (lazy ``importlib`` names
included), reach it: ``tests/report/test_tables.py`` imports ``omnibench.report.build``, which
imports ``report.cells``. Imports are not followed across packages: through the CLI or the run
pipeline every test reaches every module, and those end-to-end tests cost minutes for each
mutant they cannot tell apart.

``python tools/mutation_selection.py globs`` prints ``make mutation``'s MUTANTS, ``tests`` the
selected test files; the conftest option ``--mutation-selection`` narrows a pytest run to them.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "omnibench"


@cache
def _config(root: Path = ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]


def modules(root: Path = ROOT) -> list[str]:
    """The listed modules, as dotted names (``omnibench.report.stats``)."""
    return [_dotted(Path(path)) for path in _config(root)["mutmut"]["only_mutate"]]


def narrowed(root: Path = ROOT) -> dict[str, list[str]]:
    """Listed modules mutated in part: dotted name -> function patterns."""
    table = _config(root).get("omnibench", {}).get("mutation", {}).get("functions", {})
    return {_dotted(Path(path)): list(patterns) for path, patterns in table.items()}


def _dotted(path: Path) -> str:
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def mutant_globs(root: Path = ROOT) -> list[str]:
    """mutmut name globs of every mutant ``make mutation`` runs."""
    parts = narrowed(root)
    globs = []
    for module in modules(root):
        for pattern in parts.get(module, ["*"]):
            globs.append(f"{module}.{_mangled(pattern)}")
    return globs


def _mangled(pattern: str) -> str:
    """mutmut's name of a function (``x_name``) or method (``xǁClassǁname``), as a glob prefix."""
    if pattern == "*":
        return "*"
    if "." in pattern:
        cls, name = pattern.split(".", 1)
        return f"xǁ{cls}ǁ{name}__*"
    return f"x_{pattern}__*"


def _module_files(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        files[_dotted(path.relative_to(root))] = path
    return files


def _imported(tree: ast.AST, known: Iterable[str], package: str = "") -> set[str]:
    """omnibench modules a file imports: import statements anywhere in it, names of modules in
    strings (``importlib.import_module``; ``"module:name"`` as ``registry.load`` reads it; a
    module of the file's own ``package`` by its short name, as ``registry.lazy_exports`` reads
    it; a package's modules its ``__init__`` finds with ``pkgutil.iter_modules`` by a name
    suffix), and modules named by an f-string prefix completed by a string of the same file
    (``f"omnibench.models.{name}"``)."""
    known = set(known)
    found: set[str] = set()
    prefixes: list[str] = [f"{package}."] if package else []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value.partition(":")[0])
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and str(head.value).endswith("."):
                prefixes.append(str(head.value))
    found |= {prefix + name for prefix in prefixes for name in found}
    if package and any(
        isinstance(n, ast.Attribute) and n.attr == "iter_modules" for n in ast.walk(tree)
    ):
        # a package __init__ importing its modules found by a name suffix (the models' *_config)
        suffixes = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        found |= {m for m in known if _within(m, package) and m.endswith(tuple(suffixes))}
    return {name for name in found if name in known}


@cache
def _graph(root: Path = ROOT) -> dict[str, frozenset[str]]:
    files = _module_files(root)
    return {
        name: frozenset(
            _imported(ast.parse(path.read_text(encoding="utf-8")), files, _package(name, path))
        )
        for name, path in files.items()
    }


def _package(name: str, path: Path) -> str:
    """The package whose modules a package's ``__init__`` may name by their short names."""
    return name if path.name == "__init__.py" else ""


def reached(imports: Iterable[str], package: str, root: Path = ROOT) -> set[str]:
    """Modules of ``package`` that importing ``imports`` loads, following imports through that
    package's own modules only (its ``__init__`` included)."""
    graph, seen = _graph(root), set()
    inside = [name for name in imports if name in graph]
    todo = [name for name in inside if _within(name, package)]
    todo += [parent for name in inside for parent in _parents(name) if _within(parent, package)]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [m for m in graph[name] | set(_parents(name)) if _within(m, package)]
    return seen


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _parents(name: str) -> list[str]:
    return [name.rsplit(".", i)[0] for i in range(1, name.count("."))]


def test_files(root: Path = ROOT) -> list[Path]:
    """The repository's test files (``tests/**/test_*.py``)."""
    return sorted((root / "tests").rglob("test_*.py"))


def reached_by_test(path: Path, root: Path = ROOT) -> set[str]:
    """Listed modules a test file reaches: through its imports, followed inside each listed
    module's package."""
    imports = _imported(ast.parse(path.read_text(encoding="utf-8")), _graph(root))
    return {m for m in modules(root) if m in reached(imports, m.rsplit(".", 1)[0], root)}


def selected_tests(root: Path = ROOT) -> dict[str, set[str]]:
    """Test file (relative to ``root``) -> the listed modules it reaches; unselected files left
    out."""
    found = {str(p.relative_to(root)): reached_by_test(p, root) for p in test_files(root)}
    return {path: hits for path, hits in found.items() if hits}


def uncovered(root: Path = ROOT) -> list[str]:
    """Listed modules no selected test reaches (mutmut would report them "no tests")."""
    reached_somewhere = set().union(*selected_tests(root).values())
    return [m for m in modules(root) if m not in reached_somewhere]


def unknown_functions(root: Path = ROOT) -> list[str]:
    """Narrowing patterns that name no function or method of their module (a rename would
    silently drop its mutants)."""
    files = _module_files(root)
    missing = []
    for module, patterns in narrowed(root).items():
        if module not in files or module not in modules(root):
            missing.append(f"{module} (not a listed module)")
            continue
        names = _defined(ast.parse(files[module].read_text(encoding="utf-8")))
        missing += [f"{module}: {p}" for p in patterns if not fnmatch.filter(names, p)]
    return missing


def unmutated_functions(root: Path = ROOT) -> list[str]:
    """Selected functions mutmut leaves unmutated without a word: decorated ones
    (``@property``, ``@torch.no_grad()``, ``@lru_cache``; a lone ``@staticmethod`` or
    ``@classmethod`` is mutated)."""
    files, parts = _module_files(root), narrowed(root)
    found = []
    for module in modules(root):
        functions = _functions(ast.parse(files[module].read_text(encoding="utf-8")))
        chosen = {n for p in parts.get(module, ["*"]) for n in fnmatch.filter(functions, p)}
        found += [f"{module}: {n}" for n in sorted(chosen) if _skipped(functions[n])]
    return found


def _skipped(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated (not by a lone ``staticmethod`` / ``classmethod``) and with code to mutate (a
    protocol's ``...`` body has none)."""
    names = [d.id if isinstance(d, ast.Name) else "" for d in function.decorator_list]
    stubs = all(
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) for s in function.body
    )
    return bool(names) and names not in (["staticmethod"], ["classmethod"]) and not stubs


def _defined(tree: ast.Module) -> list[str]:
    """``name`` of each top-level function, ``Class.name`` of each method."""
    return list(_functions(tree))


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """:func:`_defined`'s names -> their definitions."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{item.name}"] = item
    return found


def _lines(command: str) -> Iterator[str]:
    if command == "globs":
        yield " ".join(f"'{glob}'" for glob in mutant_globs())
    elif command == "tests":
        yield from selected_tests()
    else:
        raise SystemExit(f"usage: {sys.argv[0]} globs|tests")


if __name__ == "__main__":
    for line in _lines(sys.argv[1] if len(sys.argv) > 1 else ""):
        print(line)
