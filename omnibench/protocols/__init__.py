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

from pathlib import Path
from typing import TYPE_CHECKING

from omnibench.config.protocols import PROTOCOLS, Protocol, validate_protocol_options
from omnibench.registry import load

if TYPE_CHECKING:
    from omnibench.config.runtime import RuntimeOptions
    from omnibench.config.spec import RunSpec


def execute(spec: RunSpec, run_dir: Path, suite: str, runtime: RuntimeOptions) -> dict:
    """Run ``spec`` into ``run_dir`` and return its record (see docs/ARCHITECTURE.md)."""
    protocol = PROTOCOLS.get(spec.protocol)
    options = validate_protocol_options(spec)
    runner = load("omnibench.protocols.runner")
    return runner.execute(spec, Path(run_dir), suite, runtime, protocol, options)


__all__ = ["PROTOCOLS", "Protocol", "execute", "validate_protocol_options"]
