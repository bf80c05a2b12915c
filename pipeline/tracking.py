"""Everything that talks to MLflow: runs, params, metrics, artifacts, the model and its registration.

The other modules return plain values; the stages hand them to the functions here.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import subprocess
import tempfile
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
import mlflow.sklearn
import pandas as pd
import requests
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from omegaconf import DictConfig, OmegaConf

from pipeline import quiet
from pipeline.data.prepared_data import prepared_digest, splits_digest
from pipeline.errors import UserInputError
from pipeline.experiments import dvc_experiment, run_names, run_owners, unsent_runs, version_notes
from pipeline.experiments.tracking_server import (
    TrackingServerUnavailable,
    bound_http_retries,
    check_answers,
    describe,
    redact,
)
from pipeline.features.text_input import SKOPS_SAVED_TYPES
from pipeline.files import sqlite_database_path
from pipeline.models import trusted_loading
from pipeline.models.model_requirements import extra_requirements
from pipeline.models.skops_import import import_skops

log = logging.getLogger(__name__)

DEFAULT_STORE_FILE = "mlflow.db"
DEFAULT_TRACKING_URI = f"sqlite:///{DEFAULT_STORE_FILE}"
# Queued DVC experiments (`dvc exp run --queue`) run in temporary copies of the repository under this folder.
DVC_EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")
MODEL_NAME_IN_RUN = "model"
# Data sets up to this many rows are logged with MLflow's own schema inference and profile (see log_dataset).
SCHEMA_SAMPLE_ROWS = 10_000


def default_tracking_uri(working_dir: Path | None = None) -> str:
    """The local store: mlflow.db in the working directory, or in the repository a queued experiment came from.

    Without this, the runs of queued DVC experiments would land in their temporary copy and vanish with it.
    """
    parts = (working_dir or Path.cwd()).parts
    for index in range(len(parts) - len(DVC_EXPERIMENT_WORKSPACES)):
        if parts[index : index + len(DVC_EXPERIMENT_WORKSPACES)] == DVC_EXPERIMENT_WORKSPACES:
            return f"sqlite:///{Path(*parts[:index]) / DEFAULT_STORE_FILE}"
    return DEFAULT_TRACKING_URI


def resolve_tracking_uri(configured: str | None) -> str:
    """Config wins, then MLFLOW_TRACKING_URI, then the local store (see default_tracking_uri)."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def absolute_tracking_uri(mlflow_cfg: DictConfig) -> str:
    """The store's URI as seen from any working directory: a relative sqlite path made absolute."""
    uri = resolve_tracking_uri(mlflow_cfg.get("tracking_uri"))
    database = sqlite_database_path(uri)
    return f"sqlite:///{database.resolve()}" if database is not None else uri


def connect_configured(mlflow_cfg: DictConfig) -> str:
    """connect() to the configured store, with the profile's bounds on MLflow's HTTP retries; returns the URI."""
    bound_http_retries(mlflow_cfg)
    return connect(mlflow_cfg.get("tracking_uri"))


def ensure_reachable(mlflow_cfg: DictConfig) -> None:
    """Before any work: stop with one line naming the URI and the cause if the tracking server does not answer."""
    uri = connect_configured(mlflow_cfg)
    if urlsplit(uri).password:
        raise UserInputError(
            f"mlflow.tracking_uri {redact(uri)}: holds a password, which would be logged with every run; "
            "give it as MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD in the environment instead"
        )
    check_answers(uri, float(mlflow_cfg.get("preflight_timeout") or 3))


# What a tracking server that fails mid-run raises through MLflow's client.
SERVER_ERRORS = (MlflowException, requests.RequestException, OSError)

# The logging calls of the current training run, kept so that a server failure mid-run loses nothing.
_journal: unsent_runs.UnsentRun | None = None


def check_store_writable(tracking_uri: str) -> None:
    """A local SQLite store must be writable (the file and its folder, where SQLite keeps its journal); otherwise
    stop before any work with one line, rather than MLflow's "attempt to write a readonly database" traceback."""
    database = sqlite_database_path(tracking_uri)
    if database is None:
        return
    folder = database.parent if database.parent.exists() else next(p for p in database.parents if p.exists())
    for path in (database, folder):
        if path.exists() and not os.access(path, os.W_OK):
            raise UserInputError(
                f"{path}: the MLflow store {tracking_uri} is read-only; make it writable, or set "
                "mlflow.tracking_uri (or MLFLOW_TRACKING_URI) to a writable store"
            )


@contextmanager
def sqlite_setup_lock(tracking_uri: str):
    """Serialise the first touch of a local SQLite store across processes.

    Parallel sweep jobs that open a new store at once race on creating its tables (alembic fails with
    "Online migration expected to match one row"); after set-up, SQLite's busy timeout handles concurrent writes.
    """
    database = sqlite_database_path(tracking_uri)
    if database is None:
        yield
        return
    lock_path = database.with_name(database.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def connect(configured_uri: str | None) -> str:
    """Point MLflow at the store (see resolve_tracking_uri), without its set-up chatter unless verbose."""
    quiet.quiet_stage()
    uri = resolve_tracking_uri(configured_uri)
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(mlflow_cfg: DictConfig, description: str | None = None) -> str:
    """Select (or create) the experiment; the UI then opens it on its model-training view with `description`."""
    uri = connect_configured(mlflow_cfg)
    check_store_writable(uri)
    with sqlite_setup_lock(uri):
        experiment = mlflow.set_experiment(mlflow_cfg.experiment)
    tags = {"mlflow.experimentKind": "custom_model_development"}
    if description:
        tags["mlflow.note.content"] = description
    set_experiment_tags(experiment, tags)
    mark_stale_runs_failed(mlflow_cfg.get("stale_after_hours") or run_owners.DEFAULT_STALE_AFTER_HOURS)
    return experiment.experiment_id


def set_experiment_tags(experiment, tags: dict[str, str]) -> None:
    """Set the tags the experiment does not hold yet. The parallel jobs of a sweep start together: on a SQL
    store two of them can insert the same new tag at once, and the second gets a duplicate-key error (PostgreSQL's
    UniqueViolation, seen in a Ray sweep on the team server); a tag another job has just set is what was wanted."""
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        if experiment.tags.get(key) == value:
            continue
        try:
            client.set_experiment_tag(experiment.experiment_id, key, value)
        except MlflowException:
            if client.get_experiment(experiment.experiment_id).tags.get(key) != value:
                raise


def mark_stale_runs_failed(stale_after_hours: float = run_owners.DEFAULT_STALE_AFTER_HOURS) -> list[str]:
    """Close the RUNNING runs of the store whose process died (see run_owners) as FAILED; returns their ids.

    Called when a stage starts, so that a killed run does not stay RUNNING forever beside finished ones.
    """
    client = mlflow.MlflowClient()
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    if not experiment_ids:
        return []
    running = client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", max_results=1000)
    closed = []
    for run in running:
        state = run_owners.RunState(run.info.run_id, run.info.status, run.info.start_time or 0, run.data.tags)
        if reason := run_owners.stale_reason(state, stale_after_hours=stale_after_hours):
            client.set_tag(run.info.run_id, run_owners.STALE_REASON_TAG, reason)
            client.set_terminated(run.info.run_id, status="FAILED")
            log.warning("marked MLflow run %s FAILED: %s", run.info.run_id, reason)
            closed.append(run.info.run_id)
    return closed


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def flatten(config: DictConfig) -> dict[str, str]:
    """Nested config -> {"model.estimator.C": "4.0", ...}, the form MLflow's params table shows."""
    return {key: str(value) for key, value in setting_leaves(OmegaConf.to_container(config, resolve=True)).items()}


def setting_leaves(settings) -> dict:
    """Nested settings as plain dicts and lists -> {"model.estimator.C": 4.0, ...}, the values as they are; a list
    holding dicts or lists is walked by index, a list of plain values is one setting."""
    leaves: dict = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
            for index, value in enumerate(node):
                walk(value, f"{prefix}.{index}")
        else:
            leaves[prefix] = node

    walk(settings, "")
    return leaves


def run_name(cfg: DictConfig) -> str:
    """model · features · key params · searched or overridden params · DVC experiment (see run_names)."""
    return run_names.run_name(cfg, run_names.hydra_job_overrides(), dvc_experiment.experiment_name())


def unused_run_name(experiment_id: str, name: str) -> str:
    """`name`, numbered when an earlier run of the experiment has it: the UI tells runs apart by name."""
    # LIKE's wildcards (_ and %) in the name only widen the search; a quote would end the string.
    prefix = name.split("'")[0]
    taken = mlflow.MlflowClient().search_runs(
        [experiment_id], filter_string=f"attributes.run_name LIKE '{prefix}%'", max_results=5000
    )
    return run_names.unique_name(name, {run.info.run_name for run in taken})


def pip_requirements(extra: list[str] | None = None) -> list[str]:
    """Explicit requirements: inferring them costs MLflow several seconds per model.

    `extra`: what the classifier's own steps need beyond these (a sentence encoder: torch, sentence-transformers
    and the package holding its weights; see pipeline/models/model_requirements.py).
    """
    packages = ["mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy", "omegaconf"]
    return [f"{package}=={version(package)}" for package in packages] + list(extra or [])


def model_signature(text_column: str, target_column: str | None) -> ModelSignature:
    """The user's own column names; a model trained with stance targets requires them."""
    inputs = [ColSpec("string", text_column)]
    if target_column:
        inputs.append(ColSpec("string", target_column))
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec("string")]))


@contextmanager
def training_run(cfg: DictConfig, data_path: str, parent_run_id: str | None = None, started_at: float | None = None):
    """Start a run named after model and features, tagged with the git commit and the data's hash.

    A sweep's jobs run in separate processes; `parent_run_id` nests each job's run under the sweep's run.
    `started_at` (seconds since the epoch) is the run's start time when the work began before the run was opened.
    If the tracking server fails during the run, the rest of the run's logging calls are kept on disk under
    `unsent_folder` and the run ends with TrackingServerUnavailable, which names the command that uploads them.
    """
    global _journal
    tags = {
        "model": cfg.model.name,
        "features": cfg.features.name,
        "git_commit": git_commit(),
        "dataset": cfg.data.name,
        "data_path": data_path,
        "data_md5": prepared_digest(cfg, data_path),
        **({"splits_md5": splits} if (splits := splits_digest(cfg.paths.processed)) else {}),
        **run_owners.owner_tags(),
        **dvc_experiment.experiment_tags(),
    }
    uri = resolve_tracking_uri(cfg.mlflow.get("tracking_uri"))
    journal = unsent_runs.UnsentRun(
        tracking_uri=without_user_info(uri),
        experiment=cfg.mlflow.experiment,
        run_name=run_name(cfg),
        tags=tags,
        description=cfg.data.get("description"),
        parent_run_id=parent_run_id,
        started_at=started_at or time.time(),
    )
    _journal = journal
    run = None
    try:
        try:
            experiment_id = use_experiment(cfg.mlflow, journal.description)
            journal.run_name = unused_run_name(experiment_id, journal.run_name)
            run = start_run(experiment_id, journal.run_name, tags, parent_run_id, started_at)
            journal.partial_run_id = run.info.run_id
        except SERVER_ERRORS as error:
            log.debug("the tracking server failed", exc_info=True)
            journal.failure = describe_failure(error)
        try:
            yield run
        except BaseException as error:
            if run is not None and journal.failure is None:
                # MLflow's own word for a run the user stopped (Ctrl-C), as against one that failed.
                mlflow.end_run("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            raise
        if journal.failure is None:
            try:
                mlflow.end_run()
            except SERVER_ERRORS as error:
                log.debug("the tracking server failed", exc_info=True)
                journal.failure = describe_failure(error)
        if journal.failure is not None:
            folder = unsent_runs.save(journal, unsent_folder(cfg))
            raise TrackingServerUnavailable(
                f"MLflow tracking server {redact(uri)} failed while logging run '{journal.run_name}': "
                f"{journal.failure}. The model, params and metrics are kept in {folder}; "
                f"upload them later with: python -m pipeline.sync {folder}"
            )
    finally:
        _journal = None
        if journal.failure is not None:
            # MLflow still holds the run it could not finish; forget it locally.
            while mlflow.active_run() is not None:
                mlflow.tracking.fluent._active_run_stack.get().pop()


def start_run(experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None, started_at: float | None):
    """mlflow.start_run, with the run's start time set to `started_at` when given.

    The train stage opens its run after the fit, so that a fit that fails leaves no run behind; without its own
    start time the run's Duration in the MLflow UI would be the logging alone (0.5 s for a 36-minute fine-tune).
    MLflow's start_run takes no start time, its client's create_run does: the run is created as start_run would
    create it (the same system tags, parent and name), then made the active run.
    """
    if started_at is None:
        return mlflow.start_run(run_name=name, tags=tags, parent_run_id=parent_run_id)
    from mlflow.tracking.context import registry as run_context
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    run_tags = {**tags, MLFLOW_RUN_NAME: name, **({MLFLOW_PARENT_RUN_ID: parent_run_id} if parent_run_id else {})}
    created = mlflow.MlflowClient().create_run(
        experiment_id, start_time=int(started_at * 1000), tags=run_context.resolve_tags(run_tags), run_name=name
    )
    return mlflow.start_run(run_id=created.info.run_id)


def unsent_folder(cfg: DictConfig) -> str:
    return cfg.paths.get("unsent_runs") or unsent_runs.DEFAULT_FOLDER


def without_user_info(uri: str) -> str:
    """Credentials never go to disk: they come from the environment when the run is uploaded."""
    parts = urlsplit(uri)
    if parts.username is None:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def describe_failure(error: BaseException) -> str:
    """One line from MLflow's long retry messages: the innermost cause, e.g. 'Connection refused'."""
    text = describe(error)
    for marker in ("Connection refused", "Read timed out", "Name or service not known", "Max retries exceeded"):
        if marker in text:
            return marker
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__


def _logged(call: dict, send):
    """Send one logging call to the server; within a training run, also keep it, and once the server has failed,
    only keep it."""
    if _journal is None:
        return send()
    _journal.calls.append(call)
    if _journal.failure is not None:
        return None
    try:
        return send()
    except SERVER_ERRORS as error:
        log.debug("the tracking server failed", exc_info=True)
        _journal.failure = describe_failure(error)
        return None


def log_config(cfg: DictConfig) -> None:
    params = flatten(cfg)
    # MLflow takes at most 100 params per batch.
    items = list(params.items())
    for start in range(0, len(items), 100):
        log_params(dict(items[start : start + 100]))
    log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")


def log_params(params: dict[str, str]) -> None:
    _logged({"call": "log_params", "params": params}, lambda: mlflow.log_params(params))


def log_dataset(frame: pd.DataFrame, source: str, name: str, context: str) -> None:
    """Record the data set a run used: its name, source, digest and schema (and, when small, its profile).

    MLflow infers a schema by looking at every value: about 5 s per 100,000 statements on this machine. Beyond
    SCHEMA_SAMPLE_ROWS the schema comes from the first rows (a table's columns do not change further down) and
    the digest is computed here over every row, vectorised; a `rows` tag on the input keeps the row count.
    """
    call = {"call": "log_dataset", "frame": frame, "source": source, "name": name, "context": context}
    _logged(call, lambda: _send_dataset(frame, source, name, context))


def _send_dataset(frame: pd.DataFrame, source: str, name: str, context: str) -> None:
    if len(frame) <= SCHEMA_SAMPLE_ROWS:
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, targets="label")
    else:
        head = mlflow.data.from_pandas(frame.head(SCHEMA_SAMPLE_ROWS), source=source, name=name, targets="label")
        dataset = MetaDataset(head.source, name=name, digest=frame_digest(frame), schema=head.schema)
    tags = {"rows": str(len(frame))}
    try:
        mlflow.log_input(dataset, context=context, tags=tags)
    except MlflowException as error:
        if not is_duplicate_key(error):
            raise
        # Sweep jobs running side by side log the same data set at the same moment. The store looks for the data
        # set, then inserts it, so both may insert it and one loses on the table's unique key (seen with
        # PostgreSQL). Its transaction was rolled back and the data set exists now: the same call links it.
        log.debug("data set %s was logged by another run at the same moment; linking it again", name)
        mlflow.log_input(dataset, context=context, tags=tags)


def is_duplicate_key(error: Exception) -> bool:
    """A database unique-key violation behind an MLflow error (PostgreSQL, SQLite or MySQL wording)."""
    text = str(error)
    return any(marker in text for marker in ("UniqueViolation", "UNIQUE constraint failed", "Duplicate entry"))


def frame_digest(frame: pd.DataFrame) -> str:
    """A short content digest of every row, like the ones MLflow shows for its data sets."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    columns = ",".join(map(str, frame.columns)).encode()
    return hashlib.md5(hashed.tobytes() + columns).hexdigest()[:8]


def log_metrics(metrics: dict[str, float], prefix: str = "", step: int = 0) -> None:
    """Log metrics to the active run at `step`. MLflow links each one to the run's models logged at that step."""
    named = {f"{prefix}{name}": float(value) for name, value in metrics.items()}
    _logged({"call": "log_metrics", "metrics": named, "step": step}, lambda: mlflow.log_metrics(named, step=step))


def step_after_last(run_id: str) -> int:
    """A step no metric or model of the run has used yet: 1 + the last one.

    MLflow 3 ties metrics to models by step. Logging a model at step s links to it every metric the run has at step
    s (those logged before it too), and a metric logged later at step s goes to every model logged at s. A second
    model of a run (the refit on all labels) logged at this step gets only its own metrics, and leaves the first
    model's scores to it.
    """
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    steps = [output.step for output in (run.outputs.model_outputs if run.outputs else [])]
    for key in run.data.metrics:
        steps.extend(metric.step for metric in client.get_metric_history(run_id, key))
    return 1 + max(steps, default=0)


UNSENT_MODEL_URI = "unsent"


def log_training_history(history: list[dict[str, float]], best_epoch: int | None = None) -> None:
    """Per-epoch scores (a fine-tuned model's), as metric series the UI charts against the epoch: epoch/<name>;
    how many epochs ran and, as the estimator chose it, whose weights were kept (the run name shows only the most
    allowed)."""
    for record in history:
        step = int(record["epoch"])
        mlflow.log_metrics({f"epoch/{name}": value for name, value in record.items() if name != "epoch"}, step=step)
    summary = {"epochs_run": float(len(history))} if history else {}
    if best_epoch is not None:
        summary["best_epoch"] = float(best_epoch)
    if summary:
        mlflow.log_metrics(summary)


def logged_model_name(run_name: str | None) -> str:
    """The run's readable name, as MLflow allows a model name: no / : . % or quotes.

    A decimal point becomes U+2024 (one dot leader), which reads the same: "C=0․25".
    """
    if not run_name:
        return MODEL_NAME_IN_RUN
    name = run_name.replace(".", "\u2024").replace("/", "-").replace(":", "-").replace("%", "pct")
    return name.replace('"', "").replace("'", "")


def log_model(
    classifier, example: pd.DataFrame, text_column: str, target_column: str | None, suffix: str = "", step: int = 0
) -> str:
    """Log the classifier as an MLflow model; returns its URI (UNSENT_MODEL_URI when the server has failed).

    `suffix` tells apart a second model of the same run (the refit on all labels), which is logged at a `step` of its
    own (see step_after_last)."""
    call = {
        "call": "log_model",
        "model": classifier,
        "frame": example,
        "text_column": text_column,
        "target_column": target_column,
        "suffix": suffix,
        "step": step,
    }
    model_uri = _logged(call, lambda: _send_model(classifier, example, text_column, target_column, suffix, step))
    return model_uri or UNSENT_MODEL_URI


def _send_model(
    classifier, example: pd.DataFrame, text_column: str, target_column: str | None, suffix: str = "", step: int = 0
) -> str:
    """Log the classifier in the active run, named after it (the "Logged models" page lists it so)."""
    # MLflow imports skops itself when it saves; imported here first, it does not import torch along with it.
    import_skops()
    active = mlflow.active_run()
    info = mlflow.sklearn.log_model(
        classifier,
        name=logged_model_name(active.info.run_name if active else None) + suffix,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        skops_trusted_types=SKOPS_SAVED_TYPES,
        signature=model_signature(text_column, target_column),
        input_example=example,
        pip_requirements=pip_requirements(extra_requirements(classifier)),
        step=step,
        # No code_paths: the classifier's own steps come from the installed package (`pip install .`), as
        # scikit-learn does. A code/ folder would be put first on sys.path by MLflow's loaders, shadowing it.
    )
    return info.model_uri


@contextmanager
def resumed_run(mlflow_cfg: DictConfig, run_id: str):
    """Continue a training run. A server failure ends it with one line: the stage's files are already written."""
    bound_http_retries(mlflow_cfg)
    uri = resolve_tracking_uri(mlflow_cfg.tracking_uri)
    try:
        check_store_writable(uri)
        mlflow.set_tracking_uri(uri)
        mark_stale_runs_failed(mlflow_cfg.get("stale_after_hours") or run_owners.DEFAULT_STALE_AFTER_HOURS)
        # The run now belongs to this process: a later stage must not take it for the (finished) train process's.
        owner = [RunTag(key, value) for key, value in run_owners.owner_tags().items()]
        mlflow.MlflowClient().log_batch(run_id, tags=owner)
        connect(mlflow_cfg.tracking_uri)
        with mlflow.start_run(run_id=run_id) as run:
            yield run
    except SERVER_ERRORS as error:
        raise TrackingServerUnavailable(
            f"MLflow tracking server {redact(uri)} failed while logging to run {run_id}: {describe_failure(error)}. "
            "The stage's output files are written; run the stage again once the server answers"
        ) from None


def log_figure(figure, artifact_file: str) -> None:
    call = {"call": "log_figure", "figure": figure, "artifact_file": artifact_file}
    _logged(call, lambda: mlflow.log_figure(figure, artifact_file))


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    call = {"call": "log_table", "frame": frame, "artifact_file": artifact_file}
    _logged(call, lambda: mlflow.log_table(frame, artifact_file=artifact_file))


def log_text(text: str, artifact_file: str) -> None:
    call = {"call": "log_text", "text": text, "artifact_file": artifact_file}
    _logged(call, lambda: mlflow.log_text(text, artifact_file))


def log_dict(payload: dict, artifact_file: str) -> None:
    call = {"call": "log_dict", "payload": payload, "artifact_file": artifact_file}
    _logged(call, lambda: mlflow.log_dict(payload, artifact_file))


# Registered-model tags that say which data set and label set its versions were trained on.
IDENTITY_TAGS = ("dataset", "labels")


def registered_model_identity(name: str) -> dict[str, str] | None:
    """The data set and labels a registered model holds; None for a model not registered yet.

    A model registered before it carried identity tags is identified by its newest version's run params.
    """
    client = mlflow.MlflowClient()
    try:
        registered = client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        return None
    if all(tag in registered.tags for tag in IDENTITY_TAGS):
        return {tag: registered.tags[tag] for tag in IDENTITY_TAGS}
    versions = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"], max_results=1)
    if versions and versions[0].run_id:
        params = client.get_run(versions[0].run_id).data.params
        if "data.name" in params and "data.labels" in params:
            return {"dataset": params["data.name"], "labels": params["data.labels"]}
    return {}


def dataset_identity(data: DictConfig) -> dict[str, str]:
    """What a registered model's versions must share: the data set and its labels."""
    # The same string form as the flattened run params, so that older registered models are recognised.
    return {"dataset": str(data.name), "labels": str(list(data.labels))}


def check_registered_model_identity(name: str, identity: dict[str, str]) -> dict[str, str] | None:
    """Refuse a registered model that holds another data set's models; its identity, None if not registered yet.

    Models of different data sets or label sets must never share a registry entry: their champion alias would
    cross data sets (a champion re-scored on labels it does not know scores 0 and loses to anything). The train
    stage checks this before fitting, the evaluate stage again before registering.
    """
    with sqlite_setup_lock(mlflow.get_tracking_uri()):  # it may be a new store's first touch
        existing = registered_model_identity(name)
    if existing and existing != identity:
        raise UserInputError(
            f"registered model {name!r} holds models of data set {existing['dataset']!r} with labels "
            f"{existing['labels']}; this run's data set is {identity['dataset']!r} with labels {identity['labels']}. "
            "Register it under its own name (data.registered_model=stance-<data set>, the default for new data "
            "sets) instead of mixing data sets under one champion"
        )
    return existing


def claim_registered_model(name: str, identity: dict[str, str], description: str | None = None) -> None:
    """Create the registered model for this data set, or check that an existing one holds the same data set."""
    client = mlflow.MlflowClient()
    if check_registered_model_identity(name, identity) is None:
        client.create_registered_model(name, tags=identity, description=description)
        return
    for tag, value in identity.items():
        client.set_registered_model_tag(name, tag, value)


# A logged model's URI as log_model returns it: models:/<model id>.
LOGGED_MODEL_URI = re.compile(r"models:/(m-[0-9a-f]+)")


def register_model(model_uri: str, name: str, tags: dict[str, str] | None = None) -> str:
    """Register the run's model as a new version of `name` (created if missing); returns its version.

    A logged model is registered through the client, as mlflow.register_model does it, but without its two
    messages on stderr: that the registered model "already exists" (the evaluate stage has just created it with its
    data-set tags, so a new store's first version got that message too) and which version it created, which the
    stage reports itself."""
    logged = LOGGED_MODEL_URI.fullmatch(model_uri)
    if logged is None:  # another kind of model URI (runs:/...): MLflow resolves it
        return mlflow.register_model(model_uri, name, tags=tags).version
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    return client.create_model_version(name, model_uri, tags=tags, model_id=logged.group(1)).version


def version_with_tags(name: str, tags: dict[str, str]):
    """The newest version of `name` (an MLflow ModelVersion) whose tags hold all of `tags`; None if none does."""
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{name}'")
    matching = [found for found in versions if all(found.tags.get(key) == value for key, value in tags.items())]
    return max(matching, key=lambda found: int(found.version), default=None)


def set_version_tags(name: str, version: str, tags: dict[str, str]) -> None:
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def aliased_model_version(name: str, alias: str):
    """The registered version (an MLflow ModelVersion: version, run_id, tags) holding `alias`; None when no version
    holds it or the model does not exist. Callers look it up once and use that version throughout: the alias may
    move meanwhile (a teammate's run promoted on a shared server)."""
    try:
        return mlflow.MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def describe_version(
    name: str, version: str, data_name: str, results: dict, decision, split_sizes: dict[str, int]
) -> None:
    """Give a registered version (of the active run's model) a readable description, its commit and DVC experiment.

    The evaluate stage tags it with the data set, labels, selection metric, data hash and champion decision."""
    client = mlflow.MlflowClient()
    run = client.get_run(mlflow.active_run().info.run_id)
    # The training run's tags: a queued DVC experiment's evaluate stage runs with the same environment.
    dvc_tags = {key: run.data.tags[key] for key in ("dvc_experiment", "dvc_baseline_rev") if key in run.data.tags}
    description = version_notes.version_description(
        run.info.run_name,
        data_name,
        run.data.tags.get("data_md5", "unknown"),
        results["metrics"],
        results["baseline"],
        decision.reason,
        decision.promote,
        split_sizes,
    )
    client.update_model_version(name, version, description=description)
    tags = version_notes.version_tags(run.data.tags, dvc_tags)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


# The statements a run's held-out fit was trained or tuned on (their statement-key digests), logged by the evaluate
# stage: once the data set has grown and been split again, the champion gate scores a champion only on the test
# statements it never saw.
SEEN_STATEMENTS_ARTIFACT = "seen_statements.parquet"


def log_seen_statements(keys: pd.DataFrame) -> None:
    """In the active run (a resumed training run, which is never kept for a later upload: logged directly)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / SEEN_STATEMENTS_ARTIFACT
        keys.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def aliased_run_id(name: str, alias: str) -> str | None:
    """The run of the version holding `alias`; None when no version holds it (or the model does not exist)."""
    found = aliased_model_version(name, alias)
    return None if found is None else found.run_id


def seen_statements(run_id: str) -> pd.DataFrame | None:
    """The statements a run's held-out fit was trained or tuned on; None when the run has no record of them
    (registered before they were recorded)."""
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SEEN_STATEMENTS_ARTIFACT)
    except (MlflowException, OSError):
        return None
    return pd.read_parquet(local)


def set_alias(name: str, alias: str, version: str) -> None:
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)


def set_tags(tags: dict[str, str]) -> None:
    _logged({"call": "set_tags", "tags": tags}, lambda: mlflow.set_tags(tags))


def load_sklearn_model(model_uri: str, trust_model: bool = False):
    """The scikit-learn model at `model_uri`, loaded with the project's trusted types only (see trusted_loading).

    trust_model=True uses MLflow's own loader, which trusts the model's MLmodel file and puts its code/ folder on
    sys.path: it runs code from the model's author.
    """
    if trust_model:
        return mlflow.sklearn.load_model(model_uri)
    local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri)
    return trusted_loading.load_model_dir(Path(local), model_uri)


def experiment_names() -> list[str]:
    """The names of the active store's experiments (deleted ones left out), in name order."""
    return sorted(experiment.name for experiment in mlflow.search_experiments())


def runs_table(tracking_uri: str | None, experiment: str, max_results: int = 1000) -> pd.DataFrame:
    """All runs of an experiment as one row each: `params.*`, `metrics.*`, `tags.*` columns, newest first."""
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    if mlflow.get_experiment_by_name(experiment) is None:
        return pd.DataFrame()
    return mlflow.search_runs(experiment_names=[experiment], max_results=max_results, output_format="pandas")


def start_sweep_parent(
    mlflow_cfg: DictConfig, name: str, tags: dict[str, str], params: dict[str, str] | None = None
) -> str:
    """Open the parent run of a sweep, with what it varies as params; its jobs nest their runs under it.

    Returns its run id."""
    ensure_reachable(mlflow_cfg)
    experiment_id = use_experiment(mlflow_cfg)
    client = mlflow.MlflowClient()
    tags = {**tags, **dvc_experiment.experiment_tags(), **run_owners.owner_tags(), "sweep_role": "parent"}
    run = client.create_run(experiment_id, run_name=unused_run_name(experiment_id, name), tags=tags)
    if params:
        client.log_batch(run.info.run_id, params=[Param(key, value[:6000]) for key, value in params.items()])
    return run.info.run_id


def finish_sweep_parent(run_id: str, metric: str, status: str = "FINISHED") -> dict | None:
    """Record the sweep's best child (by `metric`, higher is better) on the parent run, then close it with
    `status` (FAILED for a sweep that stopped on a failed job: the children that finished still count). A failed
    sweep without a single job run is deleted instead."""
    client = mlflow.MlflowClient()
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
        order_by=[f"metrics.{metric} DESC"],
    )
    if not children and status == "FAILED":
        # Stopped before any job ran (an option conf/ does not have, found as Hydra composed the jobs): the run
        # holds nothing to compare, and the error said what went wrong. Deleted, as the MLflow UI deletes; closed
        # first, or its deleted entry would show as running for ever.
        client.set_terminated(run_id, status)
        client.delete_run(run_id)
        return None
    scored = [child for child in children if metric in child.data.metrics]
    client.log_metric(run_id, "child_runs", len(children))
    best = None
    if scored:
        best = {"run_id": scored[0].info.run_id, "run_name": scored[0].info.run_name}
        best[metric] = scored[0].data.metrics[metric]
        client.log_metric(run_id, f"best_{metric}", best[metric])
        client.set_tag(run_id, "best_child_run_id", best["run_id"])
        client.set_tag(run_id, "best_child_run_name", best["run_name"])
    client.set_terminated(run_id, status)
    return best


def upload_unsent_run(run: unsent_runs.UnsentRun, folder: Path, load_model) -> str:
    """Replay a kept run's logging calls into a new run on the current tracking server; returns its run id.

    `load_model(path)` reads the kept model file (skops with the pipeline's trusted types).
    """
    experiment_id = mlflow.set_experiment(run.experiment).experiment_id
    mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")
    if run.description:
        mlflow.set_experiment_tag("mlflow.note.content", run.description)
    tags = {**run.tags, "uploaded_from": folder.name, "server_failure": run.failure or ""}
    client = mlflow.MlflowClient()
    if run.partial_run_id:
        # The half-logged run the server kept from before its failure: superseded by this upload.
        with contextlib.suppress(MlflowException):
            client.set_tag(run.partial_run_id, "superseded_by_upload_of", folder.name)
            client.set_terminated(run.partial_run_id, "FAILED")
    name = unused_run_name(experiment_id, run.run_name)
    # Started and ended when the training did, not the upload (folders from earlier versions have no times).
    with start_run(experiment_id, name, tags, run.parent_run_id, run.started_at) as uploaded:
        for call in run.calls:
            _replay(call, folder, load_model)
    if run.ended_at is not None:
        client.set_terminated(uploaded.info.run_id, "FINISHED", end_time=int(run.ended_at * 1000))
    return uploaded.info.run_id


def _replay(call: dict, folder: Path, load_model) -> None:
    kind = call["call"]
    if kind == "log_params":
        mlflow.log_params(call["params"])
    elif kind == "log_metrics":
        mlflow.log_metrics(call["metrics"], step=call.get("step", 0))
    elif kind == "set_tags":
        mlflow.set_tags(call["tags"])
    elif kind == "log_text":
        mlflow.log_text(call["text"], call["artifact_file"])
    elif kind == "log_dict":
        mlflow.log_dict(call["payload"], call["artifact_file"])
    elif kind == "log_table":
        mlflow.log_table(call["frame"], artifact_file=call["artifact_file"])
    elif kind == "log_figure":
        directory = str(Path(call["artifact_file"]).parent)
        mlflow.log_artifact(str(folder / call["figure"]), None if directory == "." else directory)
    elif kind == "log_dataset":
        _send_dataset(call["frame"], call["source"], call["name"], call["context"])
    elif kind == "log_model":
        _send_model(
            load_model(folder / call["model"]),
            call["frame"],
            call["text_column"],
            call["target_column"],
            call.get("suffix", ""),
            call.get("step", 0),
        )
    else:
        raise ValueError(f"unknown logging call {kind!r} in {folder}")
