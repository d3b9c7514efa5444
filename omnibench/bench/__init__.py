"""Speed, memory and data-loader throughput of every model, measured side by side in one process.

``run_bench(BenchSettings(...))`` returns a :class:`BenchReport`; ``print_report`` and
``to_markdown`` render it; ``BenchReport.to_dict`` is the ``--json`` form. Importing the
package loads the settings only; the rest loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnibench.bench.settings import BenchSettings
from omnibench.registry import lazy_exports

if TYPE_CHECKING:
    from omnibench.bench.loader import LoaderResult
    from omnibench.bench.models import ModelResult
    from omnibench.bench.render import print_report, to_markdown
    from omnibench.bench.run import BenchReport, run_bench
    from omnibench.bench.targets import TargetResult

__all__ = [
    "BenchReport",
    "BenchSettings",
    "LoaderResult",
    "ModelResult",
    "TargetResult",
    "print_report",
    "run_bench",
    "to_markdown",
]

# The measuring side (torch) loads on first use; the settings are light (the CLI's defaults).
__getattr__ = lazy_exports(
    __name__,
    {
        "LoaderResult": "loader",
        "ModelResult": "models",
        "print_report": "render",
        "to_markdown": "render",
        "BenchReport": "run",
        "run_bench": "run",
        "TargetResult": "targets",
    },
)
