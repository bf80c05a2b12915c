"""What a stage learns from DVC about the experiment it runs in.

`dvc exp run` (in the workspace or from the queue) sets DVC_EXP_NAME and DVC_EXP_BASELINE_REV in the
environment of every stage it runs; `dvc repro` sets neither. See dvc/repo/experiments/queue/base.py.
"""

import os

EXPERIMENT_NAME = "DVC_EXP_NAME"
BASELINE_REV = "DVC_EXP_BASELINE_REV"
# Under paths.reports; a metrics file of the train stage in dvc.yaml.
MLFLOW_RUN_FILE = "mlflow_run.json"


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


def experiment_record(run_id: str) -> dict[str, str]:
    """What the train stage writes to reports/mlflow_run.json, a metrics file `dvc exp show` lists.

    In a DVC experiment: the MLflow run it made. Outside one (`dvc repro`, `make run`) nothing, so that the
    same config, data and seed leave the committed file unchanged; the run is in models/train_run.json.
    """
    return {"mlflow_run_id": run_id} if experiment_name() else {}
