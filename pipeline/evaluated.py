"""Evaluate the latest train run when DVC did not: `make run`'s last step after `dvc repro`.

DVC re-runs a stage when its inputs or outputs change. In a fresh clone the train stage runs (the model file is
not in git) and rebuilds the model byte for byte, so the committed reports still match it and DVC skips evaluate:
that train run, in this machine's MLflow store, would have no test scores and no registered version. This module
notices and forces the evaluate stage alone; its reports come out identical, so dvc.lock and git stay clean.

    python -m pipeline.evaluated    # exit 0: evaluated (now or before); otherwise the evaluate stage's exit code
"""

import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from pipeline.files import read_json

PARAMS = Path("params.yaml")  # the composed config the DVC stages ran with
EVALUATE_ALONE = ["repro", "--force", "--single-item", "evaluate"]


def stage_files(params: Path = PARAMS) -> tuple[Path, Path]:
    """(the train stage's run record, evaluate's registration record) at the paths the stages were given."""
    paths = OmegaConf.load(params).paths
    return Path(paths.train_run), Path(paths.reports) / "registered_model.json"


def latest_train_run_evaluated(train_run: Path, registered: Path) -> bool:
    if not train_run.is_file():
        return True  # no train run here to follow up
    if not registered.is_file():
        return False
    return read_json(registered).get("run_id") == read_json(train_run).get("run_id")


def evaluate_latest_train_run(params: Path = PARAMS) -> int:
    """Run the evaluate stage alone unless the latest train run was evaluated; 0 or the stage's exit code."""
    train_run, registered = stage_files(params)
    if latest_train_run_evaluated(train_run, registered):
        return 0
    print(
        f"The train stage's MLflow run ({train_run}) has not been evaluated: DVC found the committed reports "
        "up to date with its model. Running the evaluate stage for it.",
        file=sys.stderr,
    )
    # DVC from this interpreter's environment, the one the stages were installed into.
    return subprocess.run([sys.executable, "-m", "dvc", *EVALUATE_ALONE]).returncode


if __name__ == "__main__":
    sys.exit(evaluate_latest_train_run())
