"""The registry of the papers' protocols: each name with its options dataclass, the module that
runs it and its revisions (what each changed in what the protocol computes, oldest first: the
training loop, data pipeline and evaluation every model shares).

Imports no torch: suites are checked against it without loading the engine.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from omnibench.config.protocol_options import (
    BaseToNovelOptions,
    EvalOnlyOptions,
    FewShotOptions,
    SupervisedOptions,
    ZeroShotOptions,
)
from omnibench.config.spec import validate_options
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
    revisions: tuple[str, ...] = ()  # what each revision changed in what the protocol computes

    @property
    def revision(self) -> int:
        """The protocol's revision: one more for every change of what it computes (its data
        pipeline, training loop or evaluation; :mod:`omnibench.store.revisions`)."""
        return len(self.revisions)


PROTOCOLS: Registry[Protocol] = Registry("protocol")

# What each revision of the shared pipelines changed, oldest first. A change of training (data
# sampling and augmentation, the training loop) is appended to TRAINING; a change of evaluation
# to both lists (the protocols that train also evaluate).
FIRST = "the first revision recorded with runs"
TRAINING: tuple[str, ...] = (FIRST,)  # every protocol that trains
EVALUATION: tuple[str, ...] = (FIRST,)  # eval_only

for _protocol in (
    Protocol(
        "supervised",
        SupervisedOptions,
        "omnibench.protocols.supervised",
        "train on the full training split, evaluate multi-view (OmniCLIP Table 1)",
        TRAINING,
    ),
    Protocol(
        "few_shot",
        FewShotOptions,
        "omnibench.protocols.few_shot",
        "K videos per class from split-1 train, evaluated on split-1 test (X-CLIP supp. §3.3)",
        TRAINING,
    ),
    Protocol(
        "zero_shot",
        ZeroShotOptions,
        "omnibench.protocols.zero_shot",
        "train on K400, evaluate unseen datasets over 3 splits / K600 subsets (X-CLIP supp. §3.4)",
        TRAINING,
    ),
    Protocol(
        "base_to_novel",
        BaseToNovelOptions,
        "omnibench.protocols.base_to_novel",
        "16 shots of the frequent half of the classes; "
        "base, novel and harmonic mean (ViFi-CLIP app. D)",
        TRAINING,
    ),
    Protocol(
        "eval_only",
        EvalOnlyOptions,
        "omnibench.protocols.zero_shot",
        "evaluate without training (vanilla CLIP zero-shot)",
        EVALUATION,
    ),
):
    PROTOCOLS.register(_protocol.name)(_protocol)


def validate_protocol_options(spec: RunSpec, where: str | None = None) -> Any:
    """The spec's protocol options as the protocol's options dataclass (errors name ``where``)."""
    protocol = PROTOCOLS.get(spec.protocol)
    return validate_options(
        protocol.options, spec.protocol_options, where or f"run {spec.run_id()}: protocol_options"
    )
