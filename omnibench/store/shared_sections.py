"""Sections that many entries of a kept file hold alike, written once.

The suite-wide caches (the index, ``store.index``; the reports' records, ``report.tabulated``)
hold one entry per run, and the thousands of runs of a suite hold most of their sections alike
(the annotation files they read, the spec's model, data and optimiser...). :func:`share` writes
each such value once, in a ``shared`` table, and each entry names it by its number;
:func:`unshare` gives an entry its values back, each the very same object in every entry that
holds it (so what is made of a section, e.g. its flattened columns, can be made once).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

Refs = dict[str, int]  # a section's name -> its number in the shared table


def share(
    sections: Mapping[str, Mapping[str, Any]], holders: int = 2
) -> tuple[list[Any], dict[str, Refs]]:
    """The shared table and, per entry, the numbers of its sections (``sections``: entry ->
    section name -> value) that at least ``holders`` sections hold alike; the others are not
    in the refs and stay in their entry."""
    texts = {
        entry: {name: json.dumps(value) for name, value in named.items()}
        for entry, named in sections.items()
    }
    counts = Counter(text for named in texts.values() for text in named.values())
    table: dict[str, int] = {}
    refs = {
        entry: {
            name: table.setdefault(text, len(table))
            for name, text in named.items()
            if counts[text] >= holders
        }
        for entry, named in texts.items()
    }
    return [json.loads(text) for text in table], refs


def unshare(refs: Any, table: Sequence[Any]) -> dict[str, Any]:
    """An entry's sections back from its refs (:func:`share`); ``ValueError`` when ``refs`` is
    not what :func:`share` wrote (the entry is of another shape: its run is read again)."""
    try:
        numbers = dict(refs.items())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"not shared sections: {refs!r:.80}") from None
    if not all(type(n) is int and 0 <= n < len(table) for n in numbers.values()):
        raise ValueError(f"not numbers of shared sections: {refs!r:.80}")
    return {name: table[number] for name, number in numbers.items()}
