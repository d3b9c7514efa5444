"""What computed a run: its model's and protocol's revisions and their options as resolved.

A run's id hashes its spec as the suite wrote it, and the spec leaves model and protocol options
at their defaults unset (``model.options: {}``). So the id alone cannot tell a run made before a
default changed, or before a model's code changed, from one made today. Each record therefore
carries ``computed_by``: for the model and for the protocol, the name, the revision (declared
with the model, ``omnibench/models/<model>_config.py``, and with the protocol,
``omnibench/config/protocols.py``: one more for every change of what it computes) and every
option with the defaults applied. A stored record whose ``computed_by`` differs from what this
omnibench would compute for the same spec is *stale* (:func:`stale_reason`), like a run whose
annotation files changed: ``status``, ``--dry-run`` and ``report`` say so and ``run`` reruns it.
A record without ``computed_by`` was made by an omnibench that did not record it: stale too.

Cheap and torch-free: each options class's defaults are read once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from omnibench.config.protocols import PROTOCOLS
from omnibench.models.declaration import DECLARED

COMPUTED_BY = "computed_by"  # the key in record.json and in checkpoints
NO_RECORD = (
    "made by an omnibench that did not record what computed it (no computed_by in record.json): "
    "rerun to compute it with today's models"
)


def computed_by(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model": {name, revision, options}, "protocol": {...}}`` of a spec (``to_dict`` form)."""
    model = spec.get("model") or {}
    name, protocol = str(model.get("name")), str(spec.get("protocol"))
    return {
        "model": _part(name, _model_facts(name), model.get("options") or {}),
        "protocol": _part(protocol, _protocol_facts(protocol), spec.get("protocol_options") or {}),
    }


def stale_reason(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` was computed by something else than today's omnibench would use (None: it
    was not)."""
    recorded = record.get(COMPUTED_BY)
    if not isinstance(recorded, Mapping):
        return NO_RECORD
    return changed(recorded, computed_by(record.get("spec") or {}))


def revisions_stamp() -> str:
    """A digest of what :func:`computed_by` resolves today for every declared model and protocol
    (revision, option defaults): verdicts kept under one stamp are void under another."""
    today = {
        kind: {name: _part(name, facts(name), {}) for name in registry}
        for kind, registry, facts in (
            ("model", DECLARED, _model_facts),
            ("protocol", PROTOCOLS, _protocol_facts),
        )
    }
    text = json.dumps(today, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """What differs between two :func:`computed_by` stamps, most fundamental first (None: same)."""
    for kind in ("model", "protocol"):
        old, new = recorded.get(kind) or {}, now[kind]
        reason = _revision_change(kind, old, new) or _option_change(kind, old, new)
        if reason:
            return reason
    return None


def _revision_change(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    name = new["name"]
    if old.get("name") != name or old.get("revision") == new["revision"]:
        return None
    if new["revision"] is None:
        return f"{kind} '{name}' is not known to this omnibench"
    was = old.get("revision")
    notes = _notes(kind, name)[was if isinstance(was, int) and was >= 0 else 0 :]
    since = f": {'; '.join(notes)}" if notes and (was or 0) < new["revision"] else ""
    return f"made by {kind} {name} revision {was}, now revision {new['revision']}{since}"


def _option_change(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    before, after = old.get("options") or {}, new["options"]
    keys = sorted(k for k in {*before, *after} if before.get(k, _MISSING) != after.get(k, _MISSING))
    if not keys:
        return None
    shown = ", ".join(f"{k} {_text(before, k)} -> {_text(after, k)}" for k in keys[:3])
    more = f" (and {len(keys) - 3} more)" if len(keys) > 3 else ""
    return f"{kind} {new['name']} options resolve differently now: {shown}{more}"


_MISSING = object()


def _text(options: Mapping[str, Any], key: str) -> str:
    return repr(options[key]) if key in options else "(none)"


def _part(name: str, facts: tuple[int | None, type | None], options: Mapping[str, Any]) -> dict:
    revision, options_class = facts
    defaults = option_defaults(options_class) if options_class is not None else {}
    return {"name": name, "revision": revision, "options": {**defaults, **_plain(options)}}


def _model_facts(name: str) -> tuple[int | None, type | None]:
    if name not in DECLARED:
        return None, None
    declaration = DECLARED.get(name)
    return declaration.revision, declaration.options


def _protocol_facts(name: str) -> tuple[int | None, type | None]:
    if name not in PROTOCOLS:
        return None, None
    protocol = PROTOCOLS.get(name)
    return protocol.revision, protocol.options


def _notes(kind: str, name: str) -> tuple[str, ...]:
    if kind == "model":
        return DECLARED.get(name).revisions
    return PROTOCOLS.get(name).revisions


@functools.cache
def option_defaults(options_class: type) -> dict[str, Any]:
    """Every option of an options dataclass at its default, as JSON values (tuples as lists)."""
    values = {}
    for field in dataclasses.fields(options_class):
        if field.default is not dataclasses.MISSING:
            values[field.name] = _plain(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            values[field.name] = _plain(field.default_factory())
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
