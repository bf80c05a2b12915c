"""Quiet by default: third-party messages a user cannot act on stay out of the logs.

`hydra.verbose=true` (or `-v` for stance-predict) brings every one of them back.
"""

import logging
import os
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # stance-predict imports this module and should start fast
    from omegaconf import DictConfig

# MLflow finds two identical "local file" dataset sources for a path and says so on every log_input.
DATASET_SOURCE_WARNING = "The specified dataset source can be interpreted in multiple ways"
# Set-up chatter: creating the tables of a new local store, creating the experiment.
QUIET_LOGGERS = ("mlflow.store.db.utils", "mlflow.tracking.fluent", "alembic")
JOBLIB_LAUNCHER_LOGGER = "hydra_plugins.hydra_joblib_launcher._core"
# A "Downloading artifacts" bar for each small file the evaluate stage reads back from the store (the champion, its
# held-out twin, the statements it saw); read when MLflow downloads, so setting it in the stage's process is enough.
ARTIFACTS_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def hydra_verbose() -> bool:
    """True when Hydra runs with `hydra.verbose=true` (or a list of loggers)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    return bool(HydraConfig.get().verbose)


def quiet_stage(verbose: bool | None = None) -> None:
    """In a stage's process: silence MLflow's set-up messages, its download bars and its dataset-source warning."""
    if hydra_verbose() if verbose is None else verbose:
        return
    os.environ.setdefault(ARTIFACTS_PROGRESS_BAR_ENV, "false")
    warnings.filterwarnings("ignore", message=DATASET_SOURCE_WARNING)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class DropJoblibBanner(logging.Filter):
    """The joblib launcher logs its whole `Joblib.Parallel(n_jobs=-1, backend=loky, ...)` set-up per batch."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Joblib.Parallel(")


def quiet_sweep(config: "DictConfig") -> None:
    """In the process launching a sweep: no joblib banner per trial, no colour codes from Optuna in the logs."""
    if config.hydra.get("verbose"):
        return
    quiet_stage(verbose=False)
    launcher = logging.getLogger(JOBLIB_LAUNCHER_LOGGER)
    if not any(isinstance(existing, DropJoblibBanner) for existing in launcher.filters):
        launcher.addFilter(DropJoblibBanner())
    if "optuna" in str(config.hydra.sweeper.get("_target_", "")):
        import optuna

        # Optuna's own handler writes ANSI colour codes even into files; Hydra's log handlers format it plainly.
        optuna.logging.disable_default_handler()
        optuna.logging.enable_propagation()
