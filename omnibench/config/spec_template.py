"""A run's canonical JSON made from another run's: suites of thousands of runs over seeds (or any
axis that sets one value of a run) encode each spec's identity once per template, not once per run
(:func:`omnibench.suite.grid.expand_runs`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from omnibench.config.spec import HASH_NEUTRAL, RunSpec, canonical_json_of, identity


class CanonicalTemplate:
    """A spec's canonical JSON with the values at ``paths`` (leaves outside the identity's neutral
    fields) left open: the canonical JSON of every copy that differs from it only there
    (:meth:`RunSpec.with_value`), without encoding the whole spec again (suites of thousands of
    runs over seeds). The text between the values is the spec's own: keys sort the same whatever
    the values."""

    def __init__(self, spec: RunSpec, paths: Sequence[str]) -> None:
        self.paths: tuple[str, ...] = ()
        self.pieces: list[str] = []
        neutral = [p for p in paths for n in HASH_NEUTRAL if n == p or n.startswith(p + ".")]
        marks = [f"\x00omnibench-open-{i}\x00" for i in range(len(paths))]
        plain = _marked(spec.to_dict(), [(p.split("."), m) for p, m in zip(paths, marks)])
        if neutral or plain is None:
            return
        text = canonical_json_of(identity(plain))
        found = sorted((text.find(json.dumps(m)), p, json.dumps(m)) for p, m in zip(paths, marks))
        if any(pos < 0 or text.count(mark) != 1 for pos, _, mark in found):
            return
        start = 0
        for pos, path, mark in found:
            self.pieces.append(text[start:pos])
            self.paths += (path,)
            start = pos + len(mark)
        self.pieces.append(text[start:])

    def fill(self, spec: RunSpec) -> RunSpec:
        """``spec`` (a copy of the template changed only at ``paths``) with its canonical JSON
        made from the template's; unchanged when the template could not be made."""
        if self.pieces:
            values = [canonical_json_of(spec.value_at(path)) for path in self.paths]
            text = "".join(itertools.chain.from_iterable(zip(self.pieces, [*values, ""])))
            vars(spec).setdefault("_canonical", text)  # the cache of RunSpec.canonical_json
        return spec


def _marked(plain: dict[str, Any], marks: list[tuple[list[str], str]]) -> dict[str, Any] | None:
    """A copy of a spec's plain data with ``marks`` at their paths (None: a path it lacks)."""
    out = dict(plain)
    for parts, mark in marks:
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if type(child) is not dict:
                return None
            node[part] = node = dict(child)
        if parts[-1] not in node:
            return None
        node[parts[-1]] = mark
    return out
