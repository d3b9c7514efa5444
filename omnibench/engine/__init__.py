"""Training and evaluation engine: optimiser groups, schedule, mixup, checkpoints,
distributed helpers, the trainer, evaluation and metrics.

``omnibench.compat`` runs first: timm (schedule, mixup) imports torchvision.
"""
from omnibench.compat import ensure_torchvision_ops

ensure_torchvision_ops()
