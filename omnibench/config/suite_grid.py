"""Expanding a suite document into its runs: every grid point (and seed) over ``base``, the
command-line settings, the matching overrides, the settings again, all over the papers'
hyper-parameters for the run's protocol, dataset and model (:mod:`omnibench.config.defaults`).
Each leaf keeps the ``file:line`` (or ``--set``) that set it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from omnibench.config.defaults import MissingDefaultsError, flat_defaults
from omnibench.config.spec import RunSpec, SpecError
from omnibench.config.suite_paths import (
    Leaves,
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
from omnibench.config.yaml_lines import LocatedYaml


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


def grid_paths(data: Mapping[str, Any]) -> list[str]:
    """The grid's spec paths (every grid of a list, then ``seed``), each once, in suite order."""
    grid = data.get("grid", {})
    grids = grid if isinstance(grid, list) else [grid]
    seeds = ["seed"] if "seeds" in data else []
    return list(
        dict.fromkeys([*(str(p) for g in grids if isinstance(g, Mapping) for p in g), *seeds])
    )


def expand_runs(
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


def varying_paths(specs: tuple[RunSpec, ...], grid_paths: list[str]) -> tuple[str, ...]:
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
