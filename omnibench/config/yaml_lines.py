"""YAML with line numbers: ``yaml.safe_load`` semantics plus the line of every key.

Suite files must fail with ``file:line``; PyYAML's composed nodes carry start marks, so we
compose once, construct the plain data from the same node tree, and record the line of
each key path (sequence items are addressed by their index). :func:`overlay` lays one
document over another (a suite over the file it ``include``s) and keeps, for every key, the
file and line it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from omnibench.errors import OmniBenchError, read_text, where

Key = str | int
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = (
    100_000  # a document's nodes with its aliases expanded; the largest suite has a few hundred
)


@dataclasses.dataclass(frozen=True)
class LocatedYaml:
    """Parsed YAML ``data`` and the 1-based ``lines`` of each key path in ``path``.

    ``files`` names the file of key paths that came from another file (see :func:`overlay`).
    """

    path: Path
    data: Any
    lines: Mapping[tuple[Key, ...], int]
    files: Mapping[tuple[Key, ...], Path] = dataclasses.field(default_factory=dict)

    def _spelled(self, keys: tuple[Key, ...]) -> tuple[Key, ...] | None:
        """The longest prefix of ``keys`` that the document spells out."""
        return next(
            (keys[:end] for end in range(len(keys), -1, -1) if keys[:end] in self.lines), None
        )

    def line(self, *keys: Key) -> int | None:
        """Line of the longest prefix of ``keys`` that the file spells out."""
        spelled = self._spelled(keys)
        return None if spelled is None else self.lines[spelled]

    def file(self, *keys: Key) -> Path:
        """The file that spells out ``keys`` (or their longest spelled prefix)."""
        spelled = self._spelled(keys)
        return self.files.get(spelled, self.path) if spelled is not None else self.path

    def where(self, *keys: Key) -> str:
        """``file:line`` of ``keys`` (see :meth:`line`)."""
        return where(self.file(*keys), self.line(*keys))


def load_yaml(path: Path) -> LocatedYaml:
    """Read ``path`` safely; YAML syntax errors and duplicate keys name ``file:line``."""
    loader = _Loader(read_text(path))
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, Path(path))
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise OmniBenchError(
            f"{where(path, line)}: invalid YAML: {err.problem or err.context}"
        ) from None
    except yaml.YAMLError as err:
        raise OmniBenchError(f"{path}: invalid YAML: {err}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[Key, ...], int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _collect_lines(node, (), lines, Path(path))
    return LocatedYaml(Path(path), data, lines)


def _check_expansion(root: yaml.Node, path: Path) -> None:
    """Refuse an alias that contains itself, and aliases that expand past ``MAX_NODES`` (an alias
    bomb: a few lines that would take minutes and gigabytes to expand)."""
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    visited = 0
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        if id(node) in on_path:
            raise OmniBenchError(
                f"{where(path, node.start_mark.line + 1)}: a YAML alias refers to the node "
                "that contains it (a recursive structure)"
            )
        visited += 1
        if visited > MAX_NODES:
            raise OmniBenchError(
                f"{path}: YAML aliases expand to more than {MAX_NODES} values; "
                "write the values out or use fewer nested aliases"
            )
        children = (
            [part for pair in node.value for part in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        if children:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))


def _collect_lines(
    node: yaml.Node, prefix: tuple[Key, ...], lines: dict[tuple[Key, ...], int], path: Path
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (*prefix, _scalar_key(key_node))
            if key in lines:
                first = lines[key]
                raise OmniBenchError(
                    f"{where(path, key_node.start_mark.line + 1)}: "
                    f"duplicate key '{key[-1]}' (first set on line {first})"
                )
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _collect_lines(item, (*prefix, index), lines, path)


def _scalar_key(node: yaml.Node) -> Key:
    if node.tag == "tag:yaml.org,2002:int" and str(node.value).lstrip("-").isdigit():
        return int(node.value)
    return str(node.value)


Place = tuple[Path, int]


def overlay(base: LocatedYaml, top: LocatedYaml, joined: tuple[str, ...] = ()) -> LocatedYaml:
    """``top`` laid over ``base``: mappings merge key by key and ``top``'s values win; lists under
    the top-level keys named in ``joined`` are concatenated (``base``'s items first). Every key
    keeps the file and line it came from."""
    places: dict[tuple[Key, ...], Place] = {}
    data = _merge(base, top, (), places, joined)
    lines = {keys: line for keys, (_, line) in places.items()}
    files = {keys: path for keys, (path, _) in places.items() if path != top.path}
    return LocatedYaml(top.path, data, lines, files)


def _value(doc: LocatedYaml, keys: tuple[Key, ...]) -> Any:
    node = doc.data
    for key in keys:
        node = node[key]
    return node


def _copy(
    doc: LocatedYaml, keys: tuple[Key, ...], places: dict[tuple[Key, ...], Place], shift: int = 0
) -> None:
    """Places of ``keys`` and everything below it; list items moved ``shift`` positions on."""
    for spelled, line in doc.lines.items():
        if spelled[: len(keys)] == keys:
            rest = moved = spelled[len(keys) :]
            if rest and shift:
                index = rest[0]
                assert isinstance(index, int)  # only list items shift
                moved = (index + shift, *rest[1:])
            places[(*keys, *moved)] = (doc.files.get(spelled, doc.path), line)


def _merge(
    base: LocatedYaml,
    top: LocatedYaml,
    keys: tuple[Key, ...],
    places: dict[tuple[Key, ...], Place],
    joined: tuple[str, ...],
) -> Any:
    old, new = _value(base, keys), _value(top, keys)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        if keys in top.lines:
            places[keys] = (top.files.get(keys, top.path), top.lines[keys])
        out = {}
        for key in [*old, *(k for k in new if k not in old)]:
            if key in new and key in old:
                out[key] = _merge(base, top, (*keys, key), places, joined)
            else:
                _copy(top if key in new else base, (*keys, key), places)
                out[key] = new[key] if key in new else old[key]
        return out
    if len(keys) == 1 and keys[0] in joined and isinstance(old, list) and isinstance(new, list):
        _copy(base, keys, places)
        _copy(top, keys, places, shift=len(old))
        return [*old, *new]
    _copy(top, keys, places)
    return new
