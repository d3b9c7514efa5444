"""omnibench: benchmarking and ablation suite for CLIP-based video recognition."""

__version__ = "0.1.0"
