"""Where a suite's file is: the one place a suite name becomes a file.

A suite argument is a path (``my/suite.yaml``, or any existing file) or a name, looked up in
``$OMNIBENCH_SUITES`` (``:``-separated folders, earlier ones winning) and then the built-in
``suites/``; a suite once run from a file outside them is found by its name through the file the
store recorded (``<suite>/suite.json``). Files named ``_*.yaml`` are fragments that suites
include, never suites.
"""

from __future__ import annotations

import os
from pathlib import Path

from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.registry import did_you_mean
from omnibench.store.run_store import RunStore
from omnibench.suite.paths import SuiteError

SUITES_ENV = "OMNIBENCH_SUITES"
BUILTIN_SUITES = Path(__file__).resolve().parents[2] / "suites"
FRAGMENT_PREFIX = "_"  # suites/_ablation.yaml: included by suites, not a suite itself


def suite_dirs() -> list[Path]:
    """Where suites are looked up by name: ``$OMNIBENCH_SUITES`` (``:``-separated), then
    built-ins."""
    extra = [
        Path(p).expanduser() for p in os.environ.get(SUITES_ENV, "").split(os.pathsep) if p.strip()
    ]
    return [*extra, BUILTIN_SUITES]


def suite_files() -> dict[str, Path]:
    """Suite name -> file, earlier directories winning."""
    found: dict[str, Path] = {}
    for directory in reversed(suite_dirs()):
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            if not path.name.startswith(FRAGMENT_PREFIX):
                found[path.stem] = path
    return dict(sorted(found.items()))


def is_suite_path(text: str) -> bool:
    """Whether a suite argument names a file rather than a suite."""
    return text.endswith((".yaml", ".yml")) or os.sep in text or Path(text).is_file()


def resolve_suite(name_or_path: str | Path, store: RunStore | None = None) -> Path:
    """A suite file from a path, a name (``few-shot``), or the file ``store`` recorded that a
    suite of that name was run from."""
    text = str(name_or_path)
    if is_suite_path(text):
        if not Path(text).is_file():
            raise SuiteError(f"suite file not found: {text}")
        return Path(text)
    files = suite_files()
    if text in files:
        return files[text]
    source = store.suite_source(text) if store is not None and text in store.suites() else None
    if source is None:
        known = ", ".join(files) or "none"
        raise UnknownNameError(
            f"unknown suite '{text}'{did_you_mean(text, list(files))}; known: {known}"
        )
    if not source.is_file():
        raise OmniBenchError(
            f"suite '{text}' was run from {source}, which no longer exists; pass its new path"
        )
    return source


def has_definition(name: str, store: RunStore) -> bool:
    """Whether a suite with runs in ``store`` can still be loaded by its name."""
    return name in suite_files() or store.suite_source(name) is not None
