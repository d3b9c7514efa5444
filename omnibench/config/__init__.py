"""What a run is, before anything executes: the run spec, suites and their files, the papers'
defaults.

Nothing in this package imports torch: suites load, validate and hash in a fraction of a second.
"""
