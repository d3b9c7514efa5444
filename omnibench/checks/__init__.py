"""What would fail on a compute node, found before anything is submitted: a suite's names and
options against the registries and its table's cells (``suite.py``), a plan's datasets, files,
weights and samples (``plan.py``). Used by ``validate``, ``run`` and ``eval``.
"""
