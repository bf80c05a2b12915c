"""One MLflow parent run per Hydra sweep (`--multirun`), with the sweep's jobs as its child runs.

Hydra calls this callback in the launching process, before and after the jobs (which may run in parallel
worker processes). The parent's id reaches the jobs through a file in the sweep directory.
"""

import atexit
import logging
import os
import socket
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write

from pipeline.errors import UserInputError, exit_with_user_error
from pipeline.experiments.tracking_server import is_refusal
from pipeline.files import read_json, write_json

log = logging.getLogger(__name__)

PARENT_FILE = "mlflow_parent_run.json"
# Jobs on other machines (a Ray cluster) cannot read the sweep directory; they get the parent's id in this variable.
PARENT_RUN_ID_VARIABLE = "STANCE_SWEEP_PARENT_RUN_ID"


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
    if os.environ.get(PARENT_RUN_ID_VARIABLE):
        return os.environ[PARENT_RUN_ID_VARIABLE]
    path = parent_file(hydra.sweep.dir)
    return read_json(path)["run_id"] if path.is_file() else None


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


def is_sweep_job() -> bool:
    return HydraConfig.initialized() and in_sweep()


class SweepJobError(CompactHydraException):
    """A sweep job's user error. Hydra records the job as failed, runs the sweep's other jobs, then prints this
    message alone (no traceback) in the process that launched the sweep, which exits non-zero."""


def raise_in_sweep_job(error: Exception) -> None:
    """In a sweep job, raise a user error as a SweepJobError naming the job; elsewhere, return.

    A stage exits on a user error, but in a sweep job that SystemExit would end the worker process: Ray takes it
    for a crash and re-runs the job (three times, each try logging a run) and joblib stops the other jobs."""
    if not is_sweep_job():
        return
    hydra = HydraConfig.get()
    job = f"#{hydra.job.num} ({' '.join(hydra.overrides.task)})"
    raise SweepJobError(f"sweep job {job} failed: {error}") from None


# How long a Ray cluster's head may take to accept a connection before the sweep is refused.
RAY_CONNECT_TIMEOUT = 3.0


def check_ray_cluster(address: str | None, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """The Ray launcher's cluster must accept a connection before any job is launched: with no head at the address,
    Ray's client retries and warns for ever. Without an address (or `auto`) Ray starts or finds one itself."""
    if not address or address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    # ray://host:port is Ray's client server (10001 by default); host:port is the head's GCS (6379 by default).
    default_port = 10001 if address.startswith("ray://") else 6379
    try:
        host, port = parts.hostname, parts.port or default_port
        with socket.create_connection((host, port), timeout=timeout):
            return
    except (OSError, ValueError) as error:
        cause = f"{type(error).__name__}: {error}"
        waited = "" if is_refusal(error) else f" within {timeout:g} s"
    raise UserInputError(
        f"Ray cluster at {address} (RAY_ADDRESS) did not accept a connection{waited} ({cause}); start "
        'it with `ray start --head --node-ip-address=127.0.0.1 --port=6379` (README, "Sweeps on a Ray cluster"), or '
        "set RAY_ADDRESS to your cluster's head"
    )


def pass_to_jobs(config: DictConfig, variable: str, value: str) -> None:
    """Set an environment variable in every job of this sweep, wherever the launcher runs it.

    Launchers compose each job's config from the sweep's Hydra overrides; hydra.job.env_set takes effect in the job.
    """
    with read_write(config.hydra.overrides):
        config.hydra.overrides.hydra.append(f"+hydra.job.env_set.{variable}={value}")


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
        try:
            self.open_parent_run(config)
        except UserInputError as error:
            # Hydra would turn this into a warning and launch every job anyway, each to fail the same way.
            exit_with_user_error(error)

    def open_parent_run(self, config: DictConfig) -> None:
        from pipeline import quiet, tracking
        from pipeline.data.prepared_data import use_prepared_data

        check_ray_cluster(OmegaConf.select(config, "hydra.launcher.ray.init.address"))
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
        pass_to_jobs(config, PARENT_RUN_ID_VARIABLE, self.run_id)
        # Jobs may run elsewhere (a Ray worker's copy of the project): the local store by its absolute path.
        pass_to_jobs(config, "MLFLOW_TRACKING_URI", tracking.absolute_tracking_uri(config.mlflow))
        # Ray ships a copy of the project to its workers but leaves out git-ignored files by default, and the DVC stage
        # outputs the jobs read (data/processed) are git-ignored; conf/hydra/launcher/ray_cluster.yaml lists what to
        # leave out instead.
        os.environ.setdefault("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "1")
        # Hydra calls on_multirun_end only when every job succeeded; a failed job (or Ctrl-C) ends the process
        # without it, and the parent would stay RUNNING.
        atexit.register(self.close_if_failed)
        log.info("sweep parent run %s", self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from pipeline import tracking

        if self.run_id is None:
            return
        best = tracking.finish_sweep_parent(self.run_id, self.metric)
        self.run_id = None
        if best:
            log.info("best of sweep: %s (%s %.4f)", best["run_name"], self.metric, best[self.metric])

    def close_if_failed(self) -> None:
        """At exit, a parent run still open belongs to a sweep that stopped: close it FAILED."""
        from pipeline import tracking

        if self.run_id is None:
            return
        try:
            tracking.finish_sweep_parent(self.run_id, self.metric, status="FAILED")
        except Exception as error:  # at exit, never mask the sweep's own error; the next stage closes the run
            log.warning("could not close the sweep's parent run %s: %s", self.run_id, error)
