"""Suites: ``suites/*.yaml`` -> frozen, validated run specs + the paper table they feed.

A suite is a ``base`` spec, ``grid`` axes (dotted spec paths; the cartesian product of their
values, or a list of such grids whose products are joined), optional ``overrides``
(``when`` a run matches, ``set`` spec paths) and a ``table``. ``include: FILE`` (or a list)
lays the suite over a shared fragment (a ``_name.yaml`` file, relative to the suite's folder):
mappings merge, the suite's values win, the fragment's ``overrides`` come first. Settings
from the command line (``--set KEY=VALUE``, ``--limit N``) apply to every run last, so they
win over everything the suite sets, and the overrides whose ``when`` they satisfy apply too. Setting
a path to a mapping merges it into the mapping already there (e.g. ``model.options``); any other
value replaces. Every ``when`` is matched against the run as it is before overrides, so their order
does not matter when several apply to different paths. Beneath everything the suite sets lie the
papers' hyper-parameters for the run's protocol, dataset and model
(:mod:`omnibench.suite.defaults`), so each spec spells out the values it runs with.
``external_datasets`` names datasets that users declare in their datasets.yaml (K400-tiny), with
what to declare: validation accepts them, running needs them declared.

Loading is cheap (PyYAML + :class:`~omnibench.config.spec.RunSpec`): keys, paths and values are
checked with ``file:line`` and a did-you-mean. Names that live in the dataset, model and
protocol registries (and the options of models and protocols) are checked by
:func:`omnibench.checks.suite.check_suite` (no torch either, but numpy and pandas);
commands call it only when something is about to be executed or when asked to validate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omnibench.config.spec import RunSpec
from omnibench.config.yaml_lines import LocatedYaml, load_yaml, overlay
from omnibench.errors import OmniBenchError
from omnibench.store.run_store import RunStore, checked_name
from omnibench.suite.files import FRAGMENT_PREFIX, resolve_suite, suite_files
from omnibench.suite.grid import expand_runs, grid_paths, varying_paths
from omnibench.suite.paths import (
    Leaves,
    SuiteError,
    check_keys,
    mapping_at,
    origin_of,
    string_at,
)
from omnibench.suite.plan_cache import PlanCache
from omnibench.suite.table import LAYOUTS, TableSpec, check_reference, parse_table

TOP_KEYS = (
    "name",
    "description",
    "include",
    "table",
    "external_datasets",
    "base",
    "grid",
    "seeds",
    "overrides",
)
__all__ = [
    "LAYOUTS",
    "Suite",
    "SuiteError",
    "TableSpec",
    "load_suite",
    "check_source",
    "remember_source",
]


@dataclasses.dataclass(frozen=True)
class Suite:
    """An expanded suite. ``axes``: the grid's spec paths whose value differs between its runs."""

    name: str
    description: str
    path: Path
    table: TableSpec
    specs: tuple[RunSpec, ...]
    axes: tuple[str, ...] = ()
    external_datasets: Mapping[str, str] = dataclasses.field(default_factory=dict)
    origins: Mapping[str, Mapping[str, str | None]] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )
    settings: Mapping[str, Any] = dataclasses.field(
        default_factory=dict
    )  # --set / --limit, applied to every run

    def labels(self, spec: RunSpec) -> dict[str, Any]:
        """The values of :attr:`axes` for ``spec``: what tells this run apart from the others."""
        return {axis: spec.value_at(axis) for axis in self.axes}

    def where(self, spec: RunSpec, path: str) -> str:
        """``file:line`` (or ``--set ...``) that set ``path`` (or its nearest relative) for
        ``spec``."""
        return origin_of(path, self.origins.get(spec.run_id(), {})) or str(self.path)


def load_suite(
    name_or_path: str | Path, settings: Leaves | None = None, store: RunStore | None = None
) -> Suite:
    """Load, check and expand a suite file into its run specs (no torch import): a path, a name,
    or a name ``store`` recorded the file of (:func:`omnibench.suite.files.resolve_suite`).

    ``settings`` (path -> (value, origin), from :func:`omnibench.suite.paths.parse_settings`) are
    set in every run.
    """
    path = resolve_suite(name_or_path, store)
    if path.name.startswith(FRAGMENT_PREFIX):
        raise SuiteError(
            f"{path}: files named {FRAGMENT_PREFIX}*.yaml "
            "are fragments that suites include, not suites"
        )
    cache = None if store is None else _plan_cache(store, path, settings or {})
    suite = None if cache is None else cache.load()
    if suite is None:
        sources: list[Path] = []
        suite = _expanded(path, settings or {}, sources)
        if cache is not None:
            cache.save(suite, sources)
    return suite


def _plan_cache(store: RunStore, path: Path, settings: Leaves) -> PlanCache[Suite] | None:
    """The cache of the suite file's expansion; None for a file named as no store folder can be
    (the expansion names the problem, at its line)."""
    try:
        return PlanCache(store, path, settings, Suite)
    except OmniBenchError:
        return None


def _expanded(path: Path, settings: Leaves, sources: list[Path]) -> Suite:
    """The suite file at ``path`` expanded; the files it read are added to ``sources``."""
    doc = _document(path, (), sources)
    data = mapping_at(doc, doc.data, ())
    name = string_at(doc, data, "name")
    if name != doc.path.stem:
        raise SuiteError(
            f"{doc.where('name')}: name '{name}' must equal the file name '{doc.path.stem}'"
        )
    try:
        checked_name(name, "suite name")
    except OmniBenchError as err:
        raise SuiteError(f"{doc.where('name')}: {err}") from None
    description = string_at(doc, data, "description")
    table = parse_table(doc, mapping_at(doc, data.get("table"), ("table",)))
    runs = expand_runs(doc, data, settings)
    specs = tuple(spec for spec, _ in runs)
    check_reference(doc, table, specs)
    axes = varying_paths(specs, grid_paths(data))
    external = _external_datasets(doc, data.get("external_datasets", {}))
    chosen = {path: value for path, (value, _) in settings.items()}
    return Suite(
        name,
        description,
        doc.path,
        table,
        specs,
        axes,
        external,
        {s.run_id(): o for s, o in runs},
        chosen,
    )


def _document(path: Path, chain: tuple[Path, ...], sources: list[Path]) -> LocatedYaml:
    """The suite file laid over the files it includes (recursively; a cycle is an error); every
    file read is added to ``sources``."""
    sources.append(path)
    doc = load_yaml(path)
    data = mapping_at(doc, doc.data, ())
    check_keys(doc, data, (), TOP_KEYS)
    if path.resolve() in chain:
        raise SuiteError(
            f"{doc.where('include')}: include cycle: {' -> '.join(str(p) for p in (*chain, path))}"
        )
    included = data.get("include", [])
    names = [included] if isinstance(included, str) else included
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise SuiteError(f"{doc.where('include')}: 'include' must be a file name or a list of them")
    for index, name in enumerate(names):
        target = (path.parent / name).expanduser()
        if not target.is_file():
            raise SuiteError(
                f"{doc.where('include', *([index] if isinstance(included, list) else []))}: "
                f"included file not found: {target}"
            )
        doc = overlay(
            _document(target, (*chain, path.resolve()), sources), doc, joined=("overrides",)
        )
    return doc


def _external_datasets(doc: LocatedYaml, data: Any) -> dict[str, str]:
    """``external_datasets``: names the user declares in datasets.yaml -> what to declare."""
    if not isinstance(data, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in data.values()
    ):
        raise SuiteError(
            f"{doc.where('external_datasets')}: 'external_datasets' "
            "must map dataset names to descriptions"
        )
    return {str(k): v for k, v in data.items()}


def check_source(suite: Suite) -> None:
    """Refuse a suite file that reuses the name of another known suite file."""
    known = suite_files().get(suite.name)
    if known is not None and known.resolve() != suite.path.resolve():
        raise OmniBenchError(
            f"{suite.path}: suite name '{suite.name}' is already taken by {known}; "
            "rename the file and its 'name:'"
        )


def remember_source(store: RunStore, suite: Suite) -> None:
    """Record the suite's file in the store (after :func:`check_source`)."""
    check_source(suite)
    store.remember_suite(suite.name, suite.path)
