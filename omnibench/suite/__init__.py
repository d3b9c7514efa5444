"""Suites: ``suites/*.yaml`` (or any file) -> a list of ``RunSpec`` and the paper table each feeds.

Finding and loading suites and their includes (``load.py``), expanding grids, seeds, overrides and
``--set`` over the papers' defaults (``grid.py``, ``defaults.py``), the table (``table.py``) and
spec paths (``paths.py``). Imports no torch.
"""
