"""Executing runs: plans (skip / resume / rerun / wait), jobs, the inline, local and Slurm
launchers, cancelling. The run folders they act on are :mod:`omnibench.store`'s.

Torch is imported only where a run actually executes (``job.run_task``).
"""
