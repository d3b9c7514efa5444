"""YAML with line numbers: ``yaml.safe_load`` semantics plus the line of every key.

Suite files must fail with ``file:line``; PyYAML's composed nodes carry start marks, so we
compose once, construct the plain data from the same node tree, and record the line of
each key path (sequence items are addressed by their index).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from omnibench.errors import OmniBenchError, where

Key = str | int
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass(frozen=True)
class LocatedYaml:
    """Parsed YAML ``data`` and the 1-based ``lines`` of each key path in ``path``."""

    path: Path
    data: Any
    lines: Mapping[tuple[Key, ...], int]

    def line(self, *keys: Key) -> int | None:
        """Line of the longest prefix of ``keys`` that the file spells out."""
        for end in range(len(keys), -1, -1):
            if keys[:end] in self.lines:
                return self.lines[keys[:end]]
        return None

    def where(self, *keys: Key) -> str:
        """``file:line`` of ``keys`` (see :meth:`line`)."""
        return where(self.path, self.line(*keys))


def load_yaml(path: Path) -> LocatedYaml:
    """Read ``path`` safely; YAML syntax errors and duplicate keys name ``file:line``."""
    text = Path(path).read_text(encoding="utf-8")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise OmniBenchError(f"{where(path, line)}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise OmniBenchError(f"{path}: invalid YAML: {err}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[Key, ...], int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _collect_lines(node, (), lines, Path(path))
    return LocatedYaml(Path(path), data, lines)


def _collect_lines(node: yaml.Node, prefix: tuple[Key, ...], lines: dict[tuple[Key, ...], int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (*prefix, _scalar_key(key_node))
            if key in lines:
                first = lines[key]
                raise OmniBenchError(
                    f"{where(path, key_node.start_mark.line + 1)}: duplicate key '{key[-1]}' (first set on line {first})"
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
