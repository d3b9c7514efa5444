"""The papers' hyper-parameters of one run (protocol, dataset, model), as spec defaults.

A suite (or the CLI) merges these *under* the values it sets, so every run's spec (and
therefore its ``run_id``) holds the numbers actually used, and any of them can be
overridden through ``optim.*``, ``data.*``, ``model.options.*`` or ``protocol_options.*``:

    spec = RunSpec.from_dict(apply_defaults({"protocol": "few_shot", "dataset": "hmdb51"}))

Each model declares its own defaults per protocol, with their sources, where it is declared
(``omnibench/models/<model>_config.py``); a model that declares none for a protocol raises
:class:`~omnibench.models.declaration.MissingDefaultsError` instead of borrowing another
model's. What belongs to a protocol whatever the model (``eval_only`` trains for 0 epochs)
lies over the model's values. This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnibench.config.protocols import PROTOCOLS
from omnibench.models.declaration import DECLARED, MissingDefaultsError, Patch, merge
from omnibench.suite.paths import flatten

__all__ = ["MissingDefaultsError", "apply_defaults", "flat_defaults", "protocol_defaults"]

# Facts of a protocol that hold for every model.
PROTOCOL_FIXED: dict[str, Patch] = {"eval_only": {"optim": {"epochs": 0}}}


def protocol_defaults(
    protocol: str, dataset: str, model: str = "omniclip", options: Mapping[str, Any] | None = None
) -> Patch:
    """Nested ``{"optim": ..., "data": ..., "model": {"options": ...}}`` defaults for one run.

    ``options``: the run's ``model.options`` (some defaults depend on them, e.g. ViFi-CLIP's
    image-FT recipe). Unknown model or protocol names give no defaults (the suite check names
    them); a known model without defaults for a known protocol raises :class:`MissingDefaultsError`.
    """
    if model not in DECLARED.names() or protocol not in PROTOCOLS.names():
        return {}
    patch = DECLARED.get(model).defaults(protocol, dataset, options)
    return merge(patch, PROTOCOL_FIXED.get(protocol, {}))


def apply_defaults(partial: Mapping[str, Any]) -> dict[str, Any]:
    """``partial`` (plain nested spec data) with the paper defaults filled in beneath it."""
    found = partial.get("model")
    model = found if isinstance(found, Mapping) else {}
    patch = protocol_defaults(
        str(partial.get("protocol", "")),
        str(partial.get("dataset", "")),
        str(model.get("name", "omniclip")),
        model.get("options") or {},
    )
    return merge(patch, partial)


def flat_defaults(
    protocol: str, dataset: str, model: str = "omniclip", options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The same defaults as dotted spec paths (``{"optim.lr": 2e-3, ...}``), for path-based
    loaders."""
    return flatten(protocol_defaults(protocol, dataset, model, options))
