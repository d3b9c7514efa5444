"""Executing runs: the run store, plans (skip / resume / rerun), claims, jobs, launchers and Slurm.

Torch is imported only where a run actually executes (``job.run_task``).
"""
