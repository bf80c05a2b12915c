"""One MLflow parent run per Hydra sweep (`--multirun`), with the sweep's jobs as its child runs.

Hydra calls this callback in the launching process, before and after the jobs (which may run in parallel
worker processes). The parent's id reaches the jobs through a file in the sweep directory.
"""

import logging
from datetime import datetime
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from pipeline.files import read_json, write_json

log = logging.getLogger(__name__)

PARENT_FILE = "mlflow_parent_run.json"


def selection_metric(config: DictConfig) -> str:
    # Children are ranked on validation data; the test split stays out of model selection.
    return f"val_{config.selection_metric}"


def parent_file(sweep_dir: str) -> Path:
    return Path(sweep_dir) / PARENT_FILE


def parent_run_id() -> str | None:
    """In a sweep job: the run id of the sweep's parent run. None in a single run."""
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None
    path = parent_file(hydra.sweep.dir)
    return read_json(path)["run_id"] if path.is_file() else None


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_params(config: DictConfig) -> dict[str, str]:
    """What the sweep varies, as the parent run's params: `model` -> "logreg,linear_svm", and for a search,
    `search.model.estimator.C` -> "tag(log, interval(0.05, 50.0))" plus the number of trials."""
    params = {}
    for override in config.hydra.overrides.task:
        key, _, value = override.partition("=")
        params[key.lstrip("+~")] = value
    sweeper = config.hydra.sweeper
    for key, space in (sweeper.get("params") or {}).items():
        params[f"search.{key}"] = str(space)
    if sweeper.get("n_trials") is not None:
        params["search.n_trials"] = str(sweeper.n_trials)
    return params


class MlflowSweepParent(Callback):
    def __init__(self) -> None:
        self.run_id: str | None = None
        self.metric = "val_macro_f1"

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        from pipeline import quiet, tracking
        from pipeline.prepared_data import use_prepared_data

        quiet.quiet_sweep(config)
        # The same data set as the jobs: the prepared one, unless the sweep's overrides name another.
        use_prepared_data(config, list(config.hydra.overrides.task))
        self.metric = selection_metric(config)
        overrides = " ".join(config.hydra.overrides.task)
        name = f"sweep · {datetime.now():%Y-%m-%d %H:%M} · {overrides}".strip(" ·")
        self.run_id = tracking.start_sweep_parent(
            config.mlflow, name, {"sweep_overrides": overrides}, sweep_params(config)
        )
        write_json(parent_file(config.hydra.sweep.dir), {"run_id": self.run_id})
        log.info("sweep parent run %s", self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from pipeline import tracking

        if self.run_id is None:
            return
        best = tracking.finish_sweep_parent(self.run_id, self.metric)
        if best:
            log.info("best of sweep: %s (%s %.4f)", best["run_name"], self.metric, best[self.metric])
