"""Dotted spec paths (``model.options.ratio``), suite overrides, ``--set`` settings, and errors
that name where a value was set.

Suites address spec fields by dotted paths into ``RunSpec.to_dict()``. A path is checked
against the spec's dataclasses (did-you-mean on a typo); below ``model.options`` and
``protocol_options`` any key is allowed here and checked later by the options class that
the model or protocol registers. Every value a suite sets carries its origin: ``file:line``
of the suite (or of a file it includes), or ``--set KEY=VALUE`` for a command-line setting.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from collections.abc import Mapping
from typing import Any

from omnibench.config.spec import RunSpec, flatten
from omnibench.config.yaml_lines import LocatedYaml
from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

Leaves = dict[
    str, tuple[Any, str | None]
]  # dotted path -> (value, where it was set: "file:line" or "--set ...")
OVERRIDE_KEYS = ("when", "set")


class SuiteError(OmniBenchError):
    """A suite file is invalid; the message starts with ``file:line``."""


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def spec_paths(cls: type = RunSpec, prefix: str = "") -> tuple[str, ...]:
    """Every dotted path of the spec's dataclasses (mapping fields end a path)."""
    paths: list[str] = []
    for name, hint in _fields(cls).items():
        paths.append(prefix + name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            paths.extend(spec_paths(hint, f"{prefix}{name}."))
    return tuple(paths)


def check_path(path: str, where: str) -> None:
    """Raise a one-line error (at ``where``) unless ``path`` names a spec field."""
    cls: Any = RunSpec
    parts = path.split(".")
    for index, part in enumerate(parts):
        fields = _fields(cls)
        if part not in fields:
            raise SuiteError(
                f"{where}: unknown spec path '{path}'{did_you_mean(path, list(spec_paths()))}"
            )
        hint = fields[part]
        if dataclasses.is_dataclass(hint):
            cls = hint
        elif typing.get_origin(hint) is Mapping or hint is Mapping:
            if not all(parts[index + 1 :]):
                raise SuiteError(f"{where}: empty key in spec path '{path}'")
            return
        elif index < len(parts) - 1:
            head = ".".join(parts[: index + 1])
            raise SuiteError(f"{where}: spec path '{path}': '{head}' is a value, not a mapping")


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{dotted path: leaf} -> nested dicts."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, last = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def leaf_value(flat: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` of a flattened dict (a sub-mapping is rebuilt); None if absent."""
    if path in flat:
        return flat[path]
    sub = {p[len(path) + 1 :]: v for p, v in flat.items() if p.startswith(path + ".")}
    return unflatten(sub) if sub else None


def set_path(leaves: Leaves, path: str, value: Any, origin: str | None) -> None:
    """Set ``path``: a non-empty mapping merges into what is there, anything else replaces it."""
    parts = path.split(".")
    for end in range(1, len(parts)):
        leaves.pop(".".join(parts[:end]), None)  # a parent that was a leaf (e.g. options: {})
    if isinstance(value, Mapping) and value:
        leaves.pop(path, None)
        for sub, item in flatten(value).items():
            set_path(leaves, f"{path}.{sub}", item, origin)
        return
    for existing in [p for p in leaves if p.startswith(path + ".")]:
        del leaves[existing]
    leaves[path] = (value, origin)


@functools.cache
def _defaults() -> dict[str, Any]:
    return flatten(RunSpec(protocol="", dataset="").to_dict())


def effective_value(leaves: Leaves, path: str) -> Any:
    """A path's value in a partial spec, falling back to the spec's defaults."""
    flat = {p: v for p, (v, _) in leaves.items()}
    value = leaf_value(flat, path)
    return leaf_value(_defaults(), path) if value is None and path not in flat else value


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list) and not isinstance(actual, list):
        return actual in expected  # a list in ``when`` means "any of"
    return bool(expected == actual)


@dataclasses.dataclass
class Override:
    """``when`` every listed path matches, ``set`` the listed paths (suite ``overrides``)."""

    when: dict[str, Any]
    set: Leaves
    where: str
    seen: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    used: bool = False

    def matches(self, leaves: Leaves) -> bool:
        """True if the run (before overrides) has every ``when`` value."""
        ok = True
        for path, expected in self.when.items():
            actual = effective_value(leaves, path)
            if actual not in self.seen.setdefault(path, []):
                self.seen[path].append(actual)
            ok = ok and _matches(expected, actual)
        self.used = self.used or ok
        return ok

    def apply(self, leaves: Leaves) -> None:
        """Set this override's paths in ``leaves``."""
        for path, (value, origin) in self.set.items():
            set_path(leaves, path, value, origin)

    def check_used(self) -> None:
        """An override that matches no run is a typo: say which value was never seen."""
        if self.used:
            return
        for path, expected in self.when.items():
            options = [str(v) for v in self.seen.get(path, [])]
            if not any(_matches(expected, v) for v in self.seen.get(path, [])):
                hint = did_you_mean(str(expected), options)
                raise SuiteError(
                    f"{self.where}: override matches no run: no run has "
                    f"{path}={expected!r}{hint}; values: {', '.join(options)}"
                )
        raise SuiteError(f"{self.where}: override matches no run (no run has all of {self.when})")


def parse_overrides(doc: LocatedYaml, data: Any) -> list[Override]:
    """Parse the ``overrides`` list of a suite file."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise SuiteError(
            f"{doc.where('overrides')}: 'overrides' must be a list of {{when: ..., set: ...}}"
        )
    return [_parse_override(doc, item, index) for index, item in enumerate(data)]


def _parse_override(doc: LocatedYaml, item: Any, index: int) -> Override:
    keys = ("overrides", index)
    if not isinstance(item, Mapping):
        raise SuiteError(f"{doc.where(*keys)}: an override must be a mapping with 'when' and 'set'")
    for key in item:
        if key not in OVERRIDE_KEYS:
            raise SuiteError(
                f"{doc.where(*keys, key)}: unknown key "
                f"'{key}'{did_you_mean(str(key), list(OVERRIDE_KEYS))}; allowed: when, set"
            )
    parts = {}
    for key in OVERRIDE_KEYS:
        value = item.get(key)
        if not isinstance(value, Mapping) or not value:
            raise SuiteError(
                f"{doc.where(*keys, key)}: override '{key}' "
                "must be a non-empty mapping of spec paths"
            )
        for path in value:
            check_path(str(path), doc.where(*keys, key, path))
        parts[key] = value
    assigned: Leaves = {str(p): (v, doc.where(*keys, "set", p)) for p, v in parts["set"].items()}
    return Override({str(p): v for p, v in parts["when"].items()}, assigned, doc.where(*keys))


def spec_error(
    message: str,
    file: str,
    origins: Mapping[str, str | None],
    run: Mapping[str, Any],
    path_prefix: str = "",
) -> SuiteError:
    """Re-point a spec error (``"<file>: <key>: ..."``) at the suite line (or ``--set``) that set
    the key."""
    rest = message[len(file) + 2 :] if message.startswith(file + ": ") else message
    match = re.match(r"(?:unknown key ')?'?([A-Za-z_][\w.]*)", rest)  # "'optim' must be a ..."
    key = path_prefix + (match.group(1) if match else "")
    context = ", ".join(f"{p}={v}" for p, v in run.items())
    return SuiteError(
        f"{origin_of(key, origins) or file}: {rest}" + (f" (run {context})" if context else "")
    )


def origin_of(key: str, origins: Mapping[str, str | None]) -> str | None:
    """Where ``key`` was set, else its nearest parent or child, else the first known place."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        head = ".".join(parts[:end])
        found = [
            where for path, where in origins.items() if path == head or path.startswith(head + ".")
        ]
        if found and found[0] is not None:
            return found[0]
    return origins.get("") or next((where for where in origins.values() if where is not None), None)


def parse_value(text: str) -> Any:
    """A command-line value read as YAML (``2``, ``null``, ``[test1]``, ``{ratio: 0.5}``); ``1e-3``
    is a number."""
    import yaml  # noqa: PLC0415

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value):
        return float(value)  # YAML 1.1 wants a dot in 1.0e-3
    return value


def parse_assignment(text: str, flag: str, example: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value read by :func:`parse_value`); a one-line error otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise OmniBenchError(f"{flag} '{text}': expected KEY=VALUE, e.g. {flag} {example}")
    return key.strip(), parse_value(value.strip())


def parse_settings(pairs: list[str]) -> Leaves:
    """``--set`` arguments -> spec settings, each checked as a spec path (did-you-mean on a
    typo)."""
    settings: Leaves = {}
    for pair in pairs:
        path, value = parse_assignment(pair, "--set", "optim.epochs=2")
        check_path(path, f"--set {pair}")
        settings[path] = (value, f"--set {pair}")
    return settings


def mapping_at(doc: LocatedYaml, value: Any, keys: tuple[Any, ...]) -> Mapping[str, Any]:
    """``value`` (the suite's entry at ``keys``) if it is a mapping, else a one-line error at its
    line."""
    if value is None and keys:
        raise SuiteError(f"{doc.where(*keys[:-1])}: missing '{keys[-1]}'")
    if not isinstance(value, Mapping):
        raise SuiteError(
            f"{doc.where(*keys)}: '{'.'.join(map(str, keys)) or 'suite'}' must be a mapping"
        )
    return value


def check_keys(
    doc: LocatedYaml, data: Mapping[str, Any], keys: tuple[Any, ...], allowed: tuple[str, ...]
) -> None:
    """An unknown key of the mapping at ``keys`` is an error at its line, with a did-you-mean."""
    for key in data:
        if key not in allowed:
            hint = did_you_mean(str(key), list(allowed))
            raise SuiteError(
                f"{doc.where(*keys, key)}: unknown key '{key}'{hint}; allowed: {', '.join(allowed)}"
            )


def string_at(
    doc: LocatedYaml, data: Mapping[str, Any], key: str, *, prefix: tuple[str, ...] = ()
) -> str:
    """``data[key]`` if it is a non-empty string, else a one-line error at its line."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(
            f"{doc.where(*prefix, key)}: '{'.'.join((*prefix, key))}' must be a non-empty string"
        )
    return value
