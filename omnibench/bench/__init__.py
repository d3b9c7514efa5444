"""Speed, memory and data-loader throughput of every model, measured side by side in one process.

``run_bench(BenchSettings(...))`` returns a :class:`BenchReport`; ``print_report`` and
``to_markdown`` render it; ``BenchReport.to_dict`` is the ``--json`` form.
"""

from omnibench.bench.loader import LoaderResult
from omnibench.bench.models import ModelResult
from omnibench.bench.render import print_report, to_markdown
from omnibench.bench.run import BenchReport, run_bench
from omnibench.bench.settings import BenchSettings
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
