"""Expanding a suite document into its runs: every grid point (and seed) over ``base``, the
command-line settings, the matching overrides, the settings again, all over the papers'
hyper-parameters for the run's protocol, dataset and model (:mod:`omnibench.suite.defaults`).
Each leaf keeps the ``file:line`` (or ``--set``) that set it."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from omnibench.config.spec import RunSpec, SpecError
from omnibench.config.yaml_lines import LocatedYaml
from omnibench.suite.defaults import MissingDefaultsError, flat_defaults
from omnibench.suite.paths import (
    Leaves,
    Override,
    SuiteError,
    check_path,
    effective_value,
    flatten,
    mapping_at,
    parse_overrides,
    set_path,
    spec_error,
    unflatten,
)


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


Point = tuple[Leaves, tuple[Any, ...], tuple[str, ...]]


def _grid_points(
    doc: LocatedYaml, data: Mapping[str, Any], free: Callable[[str, list[Any]], bool]
) -> Iterator[Point]:
    """Every grid point as path -> (value, line of the axis), with the key of the runs that differ
    from it only in ``free`` axes (see :func:`_substitutable`) and those axes' paths."""
    for index, (keys, grid) in enumerate(_grids(doc, data)):
        axes: list[list[tuple[str, Any, str | None]]] = []
        for path, values in grid.items():
            where = doc.where(*keys, path)
            check_path(str(path), where)
            if not isinstance(values, list) or not values:
                raise SuiteError(f"{where}: grid axis '{path}' must be a non-empty list of values")
            twice = _first_duplicate(values)
            if twice is not None:
                raise SuiteError(f"{where}: grid axis '{path}' lists {values[twice]!r} twice")
            axes.append(
                [(str(path), value, doc.where(*keys, path, i)) for i, value in enumerate(values)]
            )
        seeds = _seeds(doc, data, grid)
        axes += [seeds] if seeds else []
        fixed = [i for i, axis in enumerate(axes) if not free(axis[0][0], [v for _, v, _ in axis])]
        paths = tuple(axis[0][0] for i, axis in enumerate(axes) if i not in fixed)
        for combo in itertools.product(*(range(len(axis)) for axis in axes)):
            point = {axes[a][i][0]: (axes[a][i][1], axes[a][i][2]) for a, i in enumerate(combo)}
            yield point, (index, *(combo[a] for a in fixed)), paths


def _first_duplicate(values: list[Any]) -> int | None:
    """The index of the first value that an earlier one equals (None: all distinct)."""
    seen: set[Any] = set()
    for index, value in enumerate(values):
        try:
            if value in seen:
                return index
            seen.add(value)
        except TypeError:  # unhashable (a list, a mapping): compare with every earlier value
            if value in values[:index]:
                return index
    return None


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


def grid_paths(data: Mapping[str, Any]) -> list[str]:
    """The grid's spec paths (every grid of a list, then ``seed``), each once, in suite order."""
    grid = data.get("grid", {})
    grids = grid if isinstance(grid, list) else [grid]
    seeds = ["seed"] if "seeds" in data else []
    return list(
        dict.fromkeys([*(str(p) for g in grids if isinstance(g, Mapping) for p in g), *seeds])
    )


# What the papers' defaults of a run depend on (with_paper_defaults): an axis over one of these
# changes more of a run than its own value.
DEFAULT_INPUTS = ("protocol", "dataset", "model.name", "model.options")
Run = tuple[RunSpec, dict[str, str | None]]  # a spec and where each of its values was set


def expand_runs(doc: LocatedYaml, data: Mapping[str, Any], settings: Leaves) -> list[Run]:
    """Every run: grid point over base, the command-line settings, matching overrides, settings
    again. A run that differs from one already expanded only in axes that set one value each
    (seeds, most often) is that run with those values replaced: the same spec, made in a fraction
    of the time."""
    base = _leaves(doc, mapping_at(doc, data.get("base", {}), ("base",)), ("base",))
    overrides = parse_overrides(doc, data.get("overrides"))
    free = functools.partial(_substitutable, overrides=overrides, settings=settings)
    runs: dict[str, Run] = {}
    templates: dict[tuple[Any, ...], Run] = {}
    for point, key, paths in _grid_points(doc, data, free):
        run = _substituted(templates[key], point, paths) if key in templates else None
        if run is None:
            run = _expand_point(doc, base, point, overrides, settings)
            templates.setdefault(key, run)
        runs.setdefault(run[0].run_id(), run)
    for override in overrides if not settings else ():  # a --set may leave an override without runs
        override.check_used()
    return list(runs.values())


def _expand_point(
    doc: LocatedYaml, base: Leaves, point: Leaves, overrides: list[Override], settings: Leaves
) -> Run:
    """One grid point's run, expanded from the suite (see :func:`expand_runs`)."""
    leaves = dict(base)
    for path, (value, origin) in [*point.items(), *settings.items()]:
        set_path(leaves, path, value, origin)
    before = _with_defaults(doc, leaves) if overrides else leaves
    for override in [o for o in overrides if o.matches(before)]:
        override.apply(leaves)
    for path, (value, origin) in settings.items():  # the command line wins over the overrides
        set_path(leaves, path, value, origin)
    leaves = _with_defaults(doc, leaves)
    spec = _build_spec(doc, leaves, point)
    return spec, {"": doc.where("base")} | {p: origin for p, (_, origin) in leaves.items()}


def _substitutable(
    path: str, values: list[Any], overrides: list[Override], settings: Leaves
) -> bool:
    """Whether an axis only sets its own value in a run: no mapping (which merges), nothing the
    defaults depend on, no path an override matches or sets, nor one the command line sets."""
    fixed = [*DEFAULT_INPUTS, *settings, *(p for o in overrides for p in (*o.when, *o.set))]
    return not any(isinstance(v, Mapping) for v in values) and not any(
        path == p or path.startswith(p + ".") or p.startswith(path + ".") for p in fixed
    )


def _substituted(template: Run, point: Leaves, paths: tuple[str, ...]) -> Run | None:
    """``template``'s run with the values of ``paths`` taken from ``point``; None when a value does
    not fit the spec (expanding the point names the error)."""
    spec, origins = template
    try:
        for path in paths:
            spec = spec.with_value(path, point[path][0])
    except (SpecError, TypeError, ValueError):
        return None
    return spec, {**origins, **{path: point[path][1] for path in paths}}


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

    The defaults (each model's declaration, ``omnibench.suite.defaults``) become part of
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
    taken = leaves.keys() - empty
    above = {".".join(p.split(".")[:end]) for p in taken for end in range(1, p.count(".") + 1)}
    merged: Leaves = {}
    for path, value in _run_defaults(protocol, dataset, model, options):
        parts = path.split(".")  # the suite sets this path, a path below it, or one above it
        if not (
            path in taken
            or path in above
            or any(".".join(parts[:end]) in taken for end in range(1, len(parts)))
        ):
            merged[path] = (value, None)
    kept = {
        p: leaf
        for p, leaf in leaves.items()
        if not (p in empty and any(m.startswith(p + ".") for m in merged))
    }
    return {**merged, **kept}


def _run_defaults(
    protocol: str, dataset: str, model: str, options: Mapping[str, Any]
) -> tuple[tuple[str, Any], ...]:
    """:func:`flat_defaults` as (path, value) pairs, computed once per distinct setting (a suite
    of thousands of runs has a few)."""
    try:
        key = json.dumps(options, sort_keys=True)
    except (TypeError, ValueError):  # a value JSON cannot hold: the spec check names it
        return tuple(flat_defaults(protocol, dataset, model, options).items())
    return _cached_defaults(protocol, dataset, model, key)


@functools.lru_cache(maxsize=1024)
def _cached_defaults(
    protocol: str, dataset: str, model: str, options: str
) -> tuple[tuple[str, Any], ...]:
    return tuple(flat_defaults(protocol, dataset, model, json.loads(options)).items())


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


def varying_paths(specs: tuple[RunSpec, ...], grid_paths: list[str]) -> tuple[str, ...]:
    """Leaf paths under the grid axes whose value differs between runs, in grid order."""
    flats = [_leaves_under(spec, grid_paths) for spec in specs]
    paths = set().union(*flats) if flats else set()
    first = {p: repr(flats[0].get(p)) for p in paths} if flats else {}
    varying: set[str] = set()
    for flat in flats:  # a path varies once any run's value differs from the first run's
        varying.update(p for p in paths - varying if repr(flat.get(p)) != first[p])

    def rank(path: str) -> tuple[int, str]:
        under = [
            i for i, axis in enumerate(grid_paths) if path == axis or path.startswith(axis + ".")
        ]
        return (under[0] if under else len(grid_paths), path)

    return tuple(sorted(varying, key=rank))


def _leaves_under(spec: RunSpec, paths: list[str]) -> dict[str, Any]:
    """The spec's leaves at or below ``paths`` (empty mappings left out)."""
    leaves: dict[str, Any] = {}
    for path in paths:
        value = spec.value_at(path)
        leaves.update(flatten(value, path + ".") if isinstance(value, Mapping) else {path: value})
    return {p: v for p, v in leaves.items() if v != {}}
