"""A suite's expansion kept beside its runs: ``run``, ``status`` and ``report`` of a suite of
thousands of runs do not expand it again while nothing it was expanded from changed.

``<results>/<suite>/.plan.pickle`` holds the expanded :class:`~omnibench.suite.load.Suite` with
what it was made from: the suite file's path (as given), the command-line settings,
omnibench's code (:func:`~omnibench.store.index.code_fingerprint`: the papers' defaults and the
checks live there) and the content digest of every file the expansion read (the suite and the
fragments it includes). A cache that differs in any of them, or that cannot be read, is not used:
the suite is expanded again and the cache rewritten. It never decides anything about a run: the
run folders are judged afresh by every command. It is read with an unpickler that builds only the
suite's own classes (a file planted in a shared store cannot run code), and written only where the
suite's folder already exists (a dry run or a status creates no folder).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PosixPath
from typing import Any, Generic, TypeVar

from omnibench.atomic import atomic_output
from omnibench.bulk import collector_paused
from omnibench.config.spec import DataSpec, ModelSpec, OptimSpec, RunSpec
from omnibench.store.index import code_fingerprint
from omnibench.store.run_files import PLAN_FILE
from omnibench.store.run_store import RunStore
from omnibench.suite.table import TableSpec

Expanded = TypeVar("Expanded")  # the expanded suite (omnibench.suite.load.Suite)
FORMAT = 1  # of the cache file; another one is expanded again


def frozen_mapping(data: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only view of ``data`` (how the specs hold their mappings), as unpickled."""
    return types.MappingProxyType(data)


def stored_spec(state: dict[str, Any]) -> RunSpec:
    """A spec with its fields and what it worked out of them (plain form, run id), as unpickled."""
    spec = object.__new__(RunSpec)
    vars(spec).update(state)
    return spec


class _Unpickler(pickle.Unpickler):
    """Builds the expanded suite's own classes (``kind`` and the specs in it) and nothing else."""

    def __init__(self, data: bytes, kind: type) -> None:
        super().__init__(io.BytesIO(data))
        kinds: list[Any] = [kind, TableSpec, ModelSpec, DataSpec, OptimSpec, PosixPath]
        kinds += [frozen_mapping, stored_spec]
        self.allowed = {(k.__module__, k.__qualname__): k for k in kinds}

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a suite")
        return found


def source_digest(path: Path) -> str | None:
    """The sha256 of the file's bytes (None: it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class PlanCache(Generic[Expanded]):
    """The cache of one suite file expanded with one set of command-line ``settings`` into a
    ``kind``."""

    def __init__(
        self, store: RunStore, path: Path, settings: Mapping[str, Any], kind: type[Expanded]
    ) -> None:
        self.kind = kind
        self.folder = store.suite_dir(path.stem)  # a suite's name is its file's stem
        self.file = self.folder / PLAN_FILE
        made_of = [FORMAT, code_fingerprint(), str(path), repr(settings)]
        self.key = hashlib.sha256(repr(made_of).encode()).hexdigest()

    def load(self) -> Expanded | None:
        """The cached suite, or None where there is none that holds (see the module docstring)."""
        try:
            with collector_paused():  # thousands of specs at once (omnibench.bulk)
                found = _Unpickler(self.file.read_bytes(), self.kind).load()
        except Exception:  # noqa: BLE001 - missing, unreadable, corrupt or foreign: expanded again
            return None
        if not isinstance(found, dict) or found.get("key") != self.key:
            return None
        sources = found.get("sources")
        if not isinstance(sources, list) or not sources:
            return None
        if any(source_digest(Path(path)) != digest for path, digest in sources):
            return None
        suite = found.get("suite")
        return suite if isinstance(suite, self.kind) else None

    def save(self, suite: Expanded, sources: Sequence[Path]) -> None:
        """Keep ``suite``, expanded from the files ``sources``; a store folder that does not exist
        yet or cannot take it simply goes without."""
        if not self.folder.is_dir():
            return
        payload = {
            "key": self.key,
            "sources": [(str(path), source_digest(path)) for path in sources],
            "suite": suite,
        }
        try:
            with atomic_output(self.file, binary=True) as handle:
                pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
                pickler.dispatch_table = {
                    types.MappingProxyType: _reduce_mapping,
                    RunSpec: _reduce_spec,
                }
                pickler.dump(payload)
        except (OSError, pickle.PicklingError):
            return


def _reduce_mapping(mapping: Mapping[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    return frozen_mapping, (dict(mapping),)


def _reduce_spec(spec: RunSpec) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """A spec without its canonical JSON (a kilobyte each, made again when asked for)."""
    spec.run_id()
    spec.plain()
    state = {k: v for k, v in vars(spec).items() if k != "_canonical"}
    return stored_spec, (state,)
