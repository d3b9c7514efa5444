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
(:mod:`omnibench.config.defaults`), so each spec spells out the values it runs with.
``external_datasets`` names datasets that users declare in their datasets.yaml (K400-tiny), with
what to declare: validation accepts them, running needs them declared.

Loading is cheap (PyYAML + :class:`~omnibench.config.spec.RunSpec`): keys, paths and values are
checked with ``file:line`` and a did-you-mean. Names that live in the dataset, model and
protocol registries (and the options of models and protocols) are checked by
:func:`omnibench.execution.suite_check.check_suite` (no torch either, but numpy and pandas);
commands call it only when something is about to be executed or when asked to validate.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omnibench.config.defaults import MissingDefaultsError, flat_defaults
from omnibench.config.spec import RunSpec, SpecError
from omnibench.config.suite_paths import (
    Leaves,
    SuiteError,
    check_keys,
    check_path,
    effective_value,
    flatten,
    leaf_value,
    mapping_at,
    origin_of,
    parse_overrides,
    set_path,
    spec_error,
    string_at,
    unflatten,
)
from omnibench.config.suite_table import LAYOUTS, TableSpec, check_reference, parse_table
from omnibench.config.yaml_lines import LocatedYaml, load_yaml, overlay
from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.execution.store import checked_name
from omnibench.registry import did_you_mean

SUITES_ENV = "OMNIBENCH_SUITES"
BUILTIN_SUITES = Path(__file__).resolve().parents[2] / "suites"
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
FRAGMENT_PREFIX = "_"  # suites/_ablation.yaml: included by suites, not a suite itself
__all__ = [
    "LAYOUTS",
    "Suite",
    "SuiteError",
    "TableSpec",
    "load_suite",
    "resolve_suite",
    "suite_files",
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
        flat = flatten(spec.to_dict())
        return {axis: leaf_value(flat, axis) for axis in self.axes}

    def where(self, spec: RunSpec, path: str) -> str:
        """``file:line`` (or ``--set ...``) that set ``path`` (or its nearest relative) for
        ``spec``."""
        return origin_of(path, self.origins.get(spec.run_id(), {})) or str(self.path)


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


def resolve_suite(name_or_path: str | Path) -> Path:
    """A suite file from a name (``few-shot``) or a path (``my/suite.yaml``)."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text or Path(text).is_file():
        if not Path(text).is_file():
            raise SuiteError(f"suite file not found: {text}")
        return Path(text)
    files = suite_files()
    if text not in files:
        known = ", ".join(files) or "none"
        raise UnknownNameError(
            f"unknown suite '{text}'{did_you_mean(text, list(files))}; known: {known}"
        )
    return files[text]


def load_suite(name_or_path: str | Path, settings: Leaves | None = None) -> Suite:
    """Load, check and expand a suite file into its run specs (no torch import).

    ``settings`` (path -> (value, origin), from ``suite_paths.parse_settings``) are set in every
    run.
    """
    path = resolve_suite(name_or_path)
    if path.name.startswith(FRAGMENT_PREFIX):
        raise SuiteError(
            f"{path}: files named {FRAGMENT_PREFIX}*.yaml "
            "are fragments that suites include, not suites"
        )
    doc = _document(path, ())
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
    runs = _expand(doc, data, settings or {})
    specs = tuple(spec for spec, _ in runs)
    check_reference(doc, table, specs)
    axes = _varying_paths(specs, _grid_paths(data))
    external = _external_datasets(doc, data.get("external_datasets", {}))
    chosen = {path: value for path, (value, _) in (settings or {}).items()}
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


def _document(path: Path, chain: tuple[Path, ...]) -> LocatedYaml:
    """The suite file laid over the files it includes (recursively; a cycle is an error)."""
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
        doc = overlay(_document(target, (*chain, path.resolve())), doc, joined=("overrides",))
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


def _grids(
    doc: LocatedYaml, data: Mapping[str, Any]
) -> Iterator[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """Each grid (a mapping of path -> values) with its key prefix in the document."""
    grid = data.get("grid", {})
    if isinstance(grid, list):
        for index, item in enumerate(grid):
            yield ("grid", index), mapping_at(doc, item, ("grid", index))
    else:
        yield ("grid",), mapping_at(doc, grid, ("grid",))


def _grid_points(doc: LocatedYaml, data: Mapping[str, Any]) -> Iterator[Leaves]:
    """Every grid point as path -> (value, line of the axis)."""
    for keys, grid in _grids(doc, data):
        axes = []
        for path, values in grid.items():
            where = doc.where(*keys, path)
            check_path(str(path), where)
            if not isinstance(values, list) or not values:
                raise SuiteError(f"{where}: grid axis '{path}' must be a non-empty list of values")
            duplicates = [v for i, v in enumerate(values) if v in values[:i]]
            if duplicates:
                raise SuiteError(f"{where}: grid axis '{path}' lists {duplicates[0]!r} twice")
            axes.append(
                [(str(path), value, doc.where(*keys, path, i)) for i, value in enumerate(values)]
            )
        seeds: Sequence[tuple[str, int, str | None] | None] = _seeds(doc, data, grid)
        for point, seed in itertools.product(itertools.product(*axes), seeds or [None]):
            yield {path: (value, line) for path, value, line in (*point, *([seed] if seed else []))}


def _seeds(
    doc: LocatedYaml, data: Mapping[str, Any], grid: Mapping[str, Any]
) -> list[tuple[str, int, str | None]]:
    """``seeds: [0, 1, 2]``: every grid point runs once per model seed (the ``seed`` axis of every
    grid)."""
    seeds = data.get("seeds")
    if seeds is None:
        return []
    if (
        not isinstance(seeds, list)
        or not seeds
        or len(set(seeds)) != len(seeds)
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise SuiteError(
            f"{doc.where('seeds')}: 'seeds' must be a non-empty list of distinct integers"
        )
    if "seed" in grid:
        raise SuiteError(
            f"{doc.where('seeds')}: seeds are given both by "
            "'seeds' and by a grid axis 'seed'; keep one"
        )
    return [("seed", seed, doc.where("seeds", i)) for i, seed in enumerate(seeds)]


def _grid_paths(data: Mapping[str, Any]) -> list[str]:
    grid = data.get("grid", {})
    grids = grid if isinstance(grid, list) else [grid]
    seeds = ["seed"] if "seeds" in data else []
    return list(
        dict.fromkeys([*(str(p) for g in grids if isinstance(g, Mapping) for p in g), *seeds])
    )


def _expand(
    doc: LocatedYaml, data: Mapping[str, Any], settings: Leaves
) -> list[tuple[RunSpec, dict[str, str | None]]]:
    """Every run: grid point over base, the command-line settings, matching overrides, settings
    again."""
    base = _leaves(doc, mapping_at(doc, data.get("base", {}), ("base",)), ("base",))
    overrides = parse_overrides(doc, data.get("overrides"))
    runs: dict[str, tuple[RunSpec, dict[str, str | None]]] = {}
    for point in _grid_points(doc, data):
        leaves = dict(base)
        for path, (value, origin) in [*point.items(), *settings.items()]:
            set_path(leaves, path, value, origin)
        for override in [o for o in overrides if o.matches(_with_defaults(doc, leaves))]:
            override.apply(leaves)
        for path, (value, origin) in settings.items():  # the command line wins over the overrides
            set_path(leaves, path, value, origin)
        leaves = _with_defaults(doc, leaves)
        spec = _build_spec(doc, leaves, point)
        origins = {"": doc.where("base")} | {p: origin for p, (_, origin) in leaves.items()}
        runs.setdefault(spec.run_id(), (spec, origins))
    for override in overrides if not settings else ():  # a --set may leave an override without runs
        override.check_used()
    return list(runs.values())


def _with_defaults(doc: LocatedYaml, leaves: Leaves) -> Leaves:
    """:func:`with_paper_defaults`; a model without defaults for the protocol is an error at the
    line that chose it."""
    try:
        return with_paper_defaults(leaves)
    except MissingDefaultsError as err:
        origin = (
            leaves.get("model.name", (None, None))[1] or leaves.get("protocol", (None, None))[1]
        )
        raise SuiteError(f"{origin or doc.where('base')}: {err}") from None


def with_paper_defaults(leaves: Leaves) -> Leaves:
    """``leaves`` over the papers' hyper-parameters for its protocol, dataset, model and options.

    The defaults (each model's declaration, ``omnibench.config.defaults``) become part of
    the spec, so the run id and the record hold the numbers actually used; anything the suite
    sets wins. A model without defaults for the run's protocol raises ``MissingDefaultsError``.
    """
    protocol, dataset, model = (
        str(effective_value(leaves, path)) for path in ("protocol", "dataset", "model.name")
    )
    options = {
        p[len("model.options.") :]: v
        for p, (v, _) in leaves.items()
        if p.startswith("model.options.")
    }
    empty = {p for p, (v, _) in leaves.items() if v == {}}  # ``options: {}`` sets nothing
    merged: Leaves = {}
    for path, value in flat_defaults(protocol, dataset, model, options).items():
        if not any(
            p == path or p.startswith(path + ".") or path.startswith(p + ".")
            for p in leaves.keys() - empty
        ):
            merged[path] = (value, None)
    kept = {
        p: leaf
        for p, leaf in leaves.items()
        if not (p in empty and any(m.startswith(p + ".") for m in merged))
    }
    return {**merged, **kept}


def _leaves(doc: LocatedYaml, data: Mapping[str, Any], keys: tuple[Any, ...]) -> Leaves:
    leaves: Leaves = {}
    for path, value in flatten(data).items():
        where = doc.where(*keys, *path.split("."))
        check_path(path, where)
        leaves[path] = (value, doc.where(*keys, *path.split(".")))
    return leaves


def _build_spec(doc: LocatedYaml, leaves: Leaves, point: Leaves) -> RunSpec:
    try:
        return RunSpec.from_dict(
            unflatten({p: v for p, (v, _) in leaves.items()}), where=str(doc.path)
        )
    except SpecError as err:
        origins = {p: origin for p, (_, origin) in leaves.items()}
        raise spec_error(
            str(err), str(doc.path), origins, {p: v for p, (v, _) in point.items()}
        ) from None


def _varying_paths(specs: tuple[RunSpec, ...], grid_paths: list[str]) -> tuple[str, ...]:
    """Leaf paths under the grid axes whose value differs between runs, in grid order."""
    flats = [{p: v for p, v in flatten(spec.to_dict()).items() if v != {}} for spec in specs]
    paths = set().union(*flats) if flats else set()
    varying = {p for p in paths if len({repr(f.get(p)) for f in flats}) > 1}

    def rank(path: str) -> tuple[int, str]:
        under = [
            i for i, axis in enumerate(grid_paths) if path == axis or path.startswith(axis + ".")
        ]
        return (under[0] if under else len(grid_paths), path)

    return tuple(sorted((p for p in varying if rank(p)[0] < len(grid_paths)), key=rank))
