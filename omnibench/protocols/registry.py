"""The registry of the papers' protocols: each name with its options dataclass and the module that
runs it.

Imports no torch: suites are checked against it without loading the engine.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from omnibench.config.spec import validate_options
from omnibench.protocols.options import (
    BaseToNovelOptions,
    EvalOnlyOptions,
    FewShotOptions,
    SupervisedOptions,
    ZeroShotOptions,
)
from omnibench.registry import Registry

if TYPE_CHECKING:
    from omnibench.config.spec import RunSpec


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A registered protocol: its options dataclass and the module whose ``run(ctx, options)``
    executes it."""

    name: str
    options: type
    module: str
    description: str


PROTOCOLS: Registry[Protocol] = Registry("protocol")

for _protocol in (
    Protocol(
        "supervised",
        SupervisedOptions,
        "omnibench.protocols.supervised",
        "train on the full training split, evaluate multi-view (OmniCLIP Table 1)",
    ),
    Protocol(
        "few_shot",
        FewShotOptions,
        "omnibench.protocols.few_shot",
        "K videos per class from split-1 train, evaluated on split-1 test (X-CLIP supp. §3.3)",
    ),
    Protocol(
        "zero_shot",
        ZeroShotOptions,
        "omnibench.protocols.zero_shot",
        "train on K400, evaluate unseen datasets over 3 splits / K600 subsets (X-CLIP supp. §3.4)",
    ),
    Protocol(
        "base_to_novel",
        BaseToNovelOptions,
        "omnibench.protocols.base_to_novel",
        "16 shots of the frequent half of the classes; "
        "base, novel and harmonic mean (ViFi-CLIP app. D)",
    ),
    Protocol(
        "eval_only",
        EvalOnlyOptions,
        "omnibench.protocols.zero_shot",
        "evaluate without training (vanilla CLIP zero-shot)",
    ),
):
    PROTOCOLS.register(_protocol.name)(_protocol)


def validate_protocol_options(spec: RunSpec, where: str | None = None) -> Any:
    """The spec's protocol options as the protocol's options dataclass (errors name ``where``)."""
    protocol = PROTOCOLS.get(spec.protocol)
    return validate_options(
        protocol.options, spec.protocol_options, where or f"run {spec.run_id()}: protocol_options"
    )
