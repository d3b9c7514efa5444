"""What a model declares without torch: its options, one-line description and protocol defaults.

Each model has a torch-free ``<model>_config.py`` next to its implementation that declares one
:class:`ModelDeclaration` with :func:`declare`: the model's one catalogue entry (name, label,
description, options, the papers' defaults, revisions, and the ``implementation`` class by
import path; its published numbers are the rows of ``report/published.yaml`` naming it).
``omnibench.models`` finds every ``*_config.py``; the torch-side registry
(:data:`omnibench.models.registry.MODELS`) is built from these entries. Suites, ``validate``,
``ls models`` and the papers' defaults read declarations only, so they need no torch.

A declaration's ``protocols`` maps each protocol the model has published settings for to a
patch of spec sections (``{"optim": {...}, "data": {...}, "model": {"options": {...}}}``);
``overlays`` add dataset- or option-specific values on top (OmniCLIP's Table 1 per dataset).
A protocol the model does not declare has no defaults: asking for them is an error, never a
copy of another model's settings. ``revisions`` lists, oldest first, what each revision of the
model changed in what it computes; a new entry makes every stored run of the model stale
(:mod:`omnibench.store.revisions`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from omnibench.errors import OmniBenchError
from omnibench.registry import Registry

Patch = dict[
    str, Any
]  # nested spec sections: {"optim": {...}, "data": {...}, "model": {"options": {...}}}
OPTION_PREFIX = "model.options."


class MissingDefaultsError(OmniBenchError):
    """A model has no declared defaults for the protocol a run asks for."""


@dataclasses.dataclass(frozen=True)
class Overlay:
    """Values that apply over a protocol's defaults when every ``when`` item matches.

    ``when`` keys: ``protocol``, ``dataset`` or ``model.options.<name>`` (the run's option value,
    or the options class default when the run sets none).
    """

    when: Mapping[str, Any]
    patch: Patch

    def matches(self, identity: Mapping[str, Any]) -> bool:
        """Whether every ``when`` item equals the run's value in ``identity``."""
        return all(identity.get(key) == value for key, value in self.when.items())


@dataclasses.dataclass(frozen=True)
class ModelDeclaration:
    """A model's torch-free facts: name, label, description, options dataclass, implementation,
    published defaults (``sources``)."""

    name: str
    label: str  # as the papers and the reports print it ("X-CLIP")
    description: str
    options: type
    implementation: str  # its VideoCLIPModel subclass: "omnibench.models.xclip:XCLIP"
    protocols: Mapping[str, Patch]
    overlays: tuple[Overlay, ...] = ()
    sources: str = ""
    revisions: tuple[str, ...] = ()  # what each revision changed in what the model computes

    @property
    def revision(self) -> int:
        """The model's revision: one more for every change of what it computes
        (:mod:`omnibench.store.revisions`)."""
        return len(self.revisions)

    def defaults(
        self, protocol: str, dataset: str, options: Mapping[str, Any] | None = None
    ) -> Patch:
        """The nested defaults of one run; :class:`MissingDefaultsError` if ``protocol`` is not
        declared."""
        if protocol not in self.protocols:
            raise MissingDefaultsError(
                f"model '{self.name}' declares no defaults for protocol '{protocol}' "
                f"(it declares: {', '.join(sorted(self.protocols))}); "
                f"{self.sources or 'no published settings'}"
            )
        identity = {"protocol": protocol, "dataset": dataset, **self._option_values(options or {})}
        patch = copy.deepcopy(dict(self.protocols[protocol]))
        for overlay in self.overlays:
            if overlay.matches(identity):
                merge(patch, overlay.patch)
        return patch

    def _option_values(self, options: Mapping[str, Any]) -> dict[str, Any]:
        values = {
            f.name: f.default
            for f in dataclasses.fields(self.options)
            if f.default is not dataclasses.MISSING
        }
        return {f"{OPTION_PREFIX}{key}": value for key, value in {**values, **options}.items()}


def merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge nested ``top`` into ``base`` in place (mappings merge, other values replace); return
    ``base``."""
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


DECLARED: Registry[ModelDeclaration] = Registry("model")


def declare(declaration: ModelDeclaration) -> ModelDeclaration:
    """Register ``declaration`` under its name (each model's ``*_config.py`` calls this once)."""
    return DECLARED.register(declaration.name)(declaration)


def model_options_class(name: str) -> type:
    """The options dataclass of model ``name`` (for validating suites without building)."""
    return DECLARED.get(name).options


def describe_models() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for every declared model, sorted by name."""
    return [(name, DECLARED.get(name).description) for name in DECLARED.names()]
