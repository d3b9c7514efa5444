"""Training and evaluation engine: optimiser groups, schedule, mixup, checkpoints,
distributed helpers, the trainer, evaluation and metrics.

``omnibench.compat`` runs first: timm (schedule, mixup) imports torchvision.
"""

import omnibench.compat  # noqa: F401  (its import runs the step; must precede torchvision)
