"""The papers' protocols: supervised, few-shot, zero-shot, base-to-novel and eval-only.

``execute(spec, run_dir, suite, runtime)`` runs one spec end to end (resuming from
``run_dir/checkpoint.pt``), writes ``predictions.csv`` and ``record.json`` atomically (rank 0)
and returns the record. ``PROTOCOLS`` maps each name to its options dataclass (validated
from ``spec.protocol_options``) and the module that runs it; this package imports no torch
until a run is executed, so suites can be validated quickly.

Model selection never looks at a test split: every protocol trains for the configured
number of epochs and evaluates the last epoch's model.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnibench.protocols.options import (
    BaseToNovelOptions,
    EvalOnlyOptions,
    FewShotOptions,
    SupervisedOptions,
    ZeroShotOptions,
)
from omnibench.registry import Registry

if TYPE_CHECKING:
    from omnibench.runtime import RuntimeOptions
    from omnibench.spec import RunSpec


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A registered protocol: its options dataclass and the module whose ``run(ctx, options)`` executes it."""

    name: str
    options: type
    module: str
    description: str


PROTOCOLS: Registry[Protocol] = Registry("protocol")

for _protocol in (
    Protocol("supervised", SupervisedOptions, "omnibench.protocols.supervised",
             "train on the full training split, evaluate multi-view (OmniCLIP Table 1)"),
    Protocol("few_shot", FewShotOptions, "omnibench.protocols.few_shot",
             "K videos per class from split-1 train, evaluated on split-1 test (X-CLIP supp. §3.3)"),
    Protocol("zero_shot", ZeroShotOptions, "omnibench.protocols.zero_shot",
             "train on K400, evaluate unseen datasets over 3 splits / K600 subsets (X-CLIP supp. §3.4)"),
    Protocol("base_to_novel", BaseToNovelOptions, "omnibench.protocols.base_to_novel",
             "16 shots of the frequent half of the classes; base, novel and harmonic mean (ViFi-CLIP app. D)"),
    Protocol("eval_only", EvalOnlyOptions, "omnibench.protocols.zero_shot",
             "evaluate without training (vanilla CLIP zero-shot)"),
):
    PROTOCOLS.register(_protocol.name)(_protocol)


def validate_protocol_options(spec: RunSpec, where: str | None = None) -> Any:
    """The spec's protocol options as the protocol's options dataclass (errors name ``where``)."""
    from omnibench.spec import validate_options

    protocol = PROTOCOLS.get(spec.protocol)
    return validate_options(protocol.options, spec.protocol_options, where or f"run {spec.run_id()}: protocol_options")


def execute(spec: RunSpec, run_dir: Path, suite: str, runtime: RuntimeOptions) -> dict:
    """Run ``spec`` into ``run_dir`` and return its record (see docs/ARCHITECTURE.md)."""
    protocol = PROTOCOLS.get(spec.protocol)
    options = validate_protocol_options(spec)
    runner = importlib.import_module("omnibench.protocols.runner")
    return runner.execute(spec, Path(run_dir), suite, runtime, protocol, options)


__all__ = ["PROTOCOLS", "Protocol", "execute", "validate_protocol_options"]
