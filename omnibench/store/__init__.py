"""The run-folder contract: ``results/<suite>/<run_id>/`` and what its files say.

The store, the run folder's file names and readers, run states, claims (``lock.json``), each run's
judged state, what counts as done (acceptance, revisions, at chance) and the suite's index of
finished runs. Everything that runs, reports or lists runs builds on it; it imports no torch.
"""
