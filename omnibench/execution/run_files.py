"""The names of the files in a run's folder, ``<results>/<suite>/<run_id>/``, defined once."""

from __future__ import annotations

SPEC_FILE = "spec.json"  # the run's spec, written when the run is prepared
STATUS_FILE = "status.json"  # its recorded state (execution.states.RECORDED), job, error
LOCK_FILE = "lock.json"  # while a process executes it: who (execution.claim)
LOG_FILE = "log.txt"  # everything the run printed
CHECKPOINT_FILE = "checkpoint.pt"  # the whole training state, to resume
SHOTS_FILE = "train_list.txt"  # few-shot: the K videos per class it drew
PREDICTIONS_FILE = "predictions.csv"  # one row per evaluated video
TRAIN_STEPS_FILE = "train_steps.json"  # loss and LR of every optimiser step (execution.train_steps)
EVENTS_FILE = "events.out.tfevents.omnibench"  # TensorBoard's, with --tensorboard (tb_events)
RECORD_FILE = "record.json"  # written last: a run is finished exactly when it exists
SUITE_SOURCE_FILE = "suite.json"  # in <results>/<suite>/: the suite file its runs came from
