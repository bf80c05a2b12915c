"""What a stage learns from DVC about the experiment it runs in.

`dvc exp run` (in the workspace or from the queue) sets DVC_EXP_NAME and DVC_EXP_BASELINE_REV in the
environment of every stage it runs; `dvc repro` sets neither. See dvc/repo/experiments/queue/base.py.
"""

import os

EXPERIMENT_NAME = "DVC_EXP_NAME"
BASELINE_REV = "DVC_EXP_BASELINE_REV"


def experiment_name() -> str | None:
    return os.environ.get(EXPERIMENT_NAME) or None


def baseline_rev() -> str | None:
    return os.environ.get(BASELINE_REV) or None


def experiment_tags() -> dict[str, str]:
    """MLflow tags that name the DVC experiment (for `dvc exp apply <name>`) and the commit it started from."""
    tags = {}
    if name := experiment_name():
        tags["dvc_experiment"] = name
    if rev := baseline_rev():
        tags["dvc_baseline_rev"] = rev
    return tags
