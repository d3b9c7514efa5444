"""What computed the runs a table shows: the model and protocol revisions and the omnibench commits.

A table only shows runs whose ``computed_by`` is today's (others are stale,
:mod:`omnibench.store.revisions`), but the runs may still come from several omnibench commits
(or a checkout with local changes), which the table then says, with how many runs each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from omnibench.store.revisions import COMPUTED_BY

SHA_DIGITS = 7


def provenance_line(records: Sequence[Mapping[str, Any]]) -> str | None:
    """One line naming the revisions and commits behind ``records`` (None: no records)."""
    if not records:
        return None
    parts = [f"{kind}s {_revisions(records, kind)}" for kind in ("model", "protocol")]
    return f"Computed by {'; '.join(parts)}; {_commits(records)}."


def _revisions(records: Sequence[Mapping[str, Any]], kind: str) -> str:
    """``omniclip r3, xclip r2`` (a name computed by several revisions lists each with its runs)."""
    found: dict[str, Counter[Any]] = {}
    for record in records:
        part = (record.get(COMPUTED_BY) or {}).get(kind) or {}
        found.setdefault(str(part.get("name")), Counter())[part.get("revision")] += 1
    texts = []
    for name, revisions in sorted(found.items()):
        if len(revisions) == 1:
            texts.append(f"{name} r{next(iter(revisions))}")
        else:
            each = ", ".join(f"r{r} ({_runs(n)})" for r, n in sorted(revisions.items(), key=str))
            texts.append(f"{name} at {len(revisions)} revisions: {each}")
    return ", ".join(texts)


def _commits(records: Sequence[Mapping[str, Any]]) -> str:
    """``omnibench 05be958`` or ``2 omnibench commits: 05be958 (3 runs), 1a2b3c4 (1 run, ...)``."""
    commits: Counter[str] = Counter()
    dirty: Counter[str] = Counter()
    for record in records:
        git = record.get("git") or {}
        sha = str(git.get("sha"))[:SHA_DIGITS] if git.get("sha") else "an unknown commit"
        commits[sha] += 1
        dirty[sha] += bool(git.get("dirty"))
    if len(commits) == 1:
        sha = next(iter(commits))
        return f"omnibench {sha}{_dirty(dirty[sha], commits[sha])}"
    each = ", ".join(
        f"{sha} ({_runs(n)}{_dirty(dirty[sha], n, inside=True)})" for sha, n in commits.items()
    )
    return f"{len(commits)} omnibench commits: {each}"


def _dirty(count: int, total: int, inside: bool = False) -> str:
    if not count:
        return ""
    which = "" if count == total else f"{count} "
    return f"{', ' if inside else ' ('}{which}with local changes{'' if inside else ')'}"


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"
