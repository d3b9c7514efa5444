"""What a run is, before anything executes: the run spec, how runs execute (never hashed), YAML
with line numbers, and the protocols a spec may name with their options and revisions.

Nothing in this package imports torch: specs validate and hash in a fraction of a second.
"""
