"""Everything that talks to MLflow: runs, params, metrics, artifacts, the model and its registration.

The other modules return plain values; the stages hand them to the functions here.
"""

import fcntl
import logging
import os
import re
import subprocess
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from omegaconf import DictConfig, OmegaConf

from pipeline.errors import UserInputError
from pipeline.files import sqlite_database_path
from pipeline.model_requirements import extra_requirements
from pipeline.prepared_data import data_digest
from pipeline.text_input import SKOPS_TRUSTED_TYPES

log = logging.getLogger(__name__)

DEFAULT_STORE_FILE = "mlflow.db"
DEFAULT_TRACKING_URI = f"sqlite:///{DEFAULT_STORE_FILE}"
# Queued DVC experiments (`dvc exp run --queue`) run in temporary copies of the repository under this folder.
DVC_EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")
MODEL_NAME_IN_RUN = "model"


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


def use_experiment(mlflow_cfg: DictConfig, description: str | None = None) -> str:
    """Select (or create) the experiment; the UI then opens it on its model-training view with `description`."""
    uri = resolve_tracking_uri(mlflow_cfg.tracking_uri)
    mlflow.set_tracking_uri(uri)
    with sqlite_setup_lock(uri):
        experiment_id = mlflow.set_experiment(mlflow_cfg.experiment).experiment_id
    mlflow.set_experiment_tag("mlflow.experimentKind", "custom_model_development")
    if description:
        mlflow.set_experiment_tag("mlflow.note.content", description)
    return experiment_id


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
    flat: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
            for index, value in enumerate(node):
                walk(value, f"{prefix}.{index}")
        else:
            flat[prefix] = str(node)

    walk(OmegaConf.to_container(config, resolve=True), "")
    return flat


def run_name(cfg: DictConfig) -> str:
    # Searched values such as C=0.6646459471581082 are shortened to four significant digits.
    key_params = re.sub(r"\d+\.\d{5,}", lambda number: f"{float(number.group()):.4g}", str(cfg.model.key_params))
    return f"{cfg.model.name} · {cfg.features.name} · {key_params}"


def pip_requirements(extra: list[str] | None = None) -> list[str]:
    """Explicit requirements: inferring them costs MLflow several seconds per model.

    `extra`: what the classifier's own steps need beyond these (a sentence encoder: torch, sentence-transformers
    and the package holding its weights; see pipeline/model_requirements.py).
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
def training_run(cfg: DictConfig, data_path: str, parent_run_id: str | None = None):
    """Start a run named after model and features, tagged with the git commit and the data's hash.

    A sweep's jobs run in separate processes; `parent_run_id` nests each job's run under the sweep's run.
    """
    use_experiment(cfg.mlflow, cfg.data.get("description"))
    tags = {
        "model": cfg.model.name,
        "features": cfg.features.name,
        "git_commit": git_commit(),
        "dataset": cfg.data.name,
        "data_path": data_path,
        "data_md5": data_digest(data_path),
    }
    with mlflow.start_run(run_name=run_name(cfg), tags=tags, parent_run_id=parent_run_id) as run:
        yield run


def log_config(cfg: DictConfig) -> None:
    params = flatten(cfg)
    # MLflow takes at most 100 params per batch.
    items = list(params.items())
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))
    mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")


def log_dataset(frame: pd.DataFrame, source: str, name: str, context: str) -> None:
    dataset = mlflow.data.from_pandas(frame, source=source, name=name, targets="label")
    mlflow.log_input(dataset, context=context)


def log_metrics(metrics: dict[str, float], prefix: str = "") -> None:
    mlflow.log_metrics({f"{prefix}{name}": value for name, value in metrics.items()})


def log_training_history(history: list[dict[str, float]]) -> None:
    """Per-epoch scores (a fine-tuned model's), as metric series the UI charts against the epoch: epoch/<name>."""
    for record in history:
        step = int(record["epoch"])
        mlflow.log_metrics({f"epoch/{name}": value for name, value in record.items() if name != "epoch"}, step=step)


def log_model(
    classifier, example: pd.DataFrame, text_column: str, target_column: str | None, name: str = MODEL_NAME_IN_RUN
) -> str:
    info = mlflow.sklearn.log_model(
        classifier,
        name=name,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        signature=model_signature(text_column, target_column),
        input_example=example,
        pip_requirements=pip_requirements(extra_requirements(classifier)),
        code_paths=[str(Path(__file__).parent)],
    )
    return info.model_uri


@contextmanager
def resumed_run(mlflow_cfg: DictConfig, run_id: str):
    mlflow.set_tracking_uri(resolve_tracking_uri(mlflow_cfg.tracking_uri))
    with mlflow.start_run(run_id=run_id) as run:
        yield run


def log_figure(figure, artifact_file: str) -> None:
    mlflow.log_figure(figure, artifact_file)


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    mlflow.log_table(frame, artifact_file=artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_dict(payload: dict, artifact_file: str) -> None:
    mlflow.log_dict(payload, artifact_file)


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


def claim_registered_model(name: str, identity: dict[str, str], description: str | None = None) -> None:
    """Create the registered model for this data set, or check that an existing one holds the same data set.

    Models of different data sets or label sets must never share a registry entry: their champion alias would
    cross data sets (a champion re-scored on labels it does not know scores 0 and loses to anything).
    """
    client = mlflow.MlflowClient()
    existing = registered_model_identity(name)
    if existing is None:
        client.create_registered_model(name, tags=identity, description=description)
        return
    if existing and existing != identity:
        raise UserInputError(
            f"registered model {name!r} holds models of data set {existing['dataset']!r} with labels "
            f"{existing['labels']}; this run's data set is {identity['dataset']!r} with labels {identity['labels']}. "
            "Register it under its own name (data.registered_model=stance-<data set>, the default for new data "
            "sets) instead of mixing data sets under one champion"
        )
    for tag, value in identity.items():
        client.set_registered_model_tag(name, tag, value)


def register_model(model_uri: str, name: str, tags: dict[str, str] | None = None) -> str:
    """Register the run's model; returns its version."""
    return mlflow.register_model(model_uri, name, tags=tags).version


def set_version_tags(name: str, version: str, tags: dict[str, str]) -> None:
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def aliased_version(name: str, alias: str) -> str | None:
    """The version holding `alias`, or None."""
    try:
        return mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
    except mlflow.exceptions.MlflowException:
        return None


def load_aliased_model(name: str, alias: str):
    """The scikit-learn model behind `models:/name@alias`, or None when no version holds the alias."""
    if aliased_version(name, alias) is None:
        return None
    return load_sklearn_model(f"models:/{name}@{alias}")


def aliased_version_tags(name: str, alias: str) -> dict[str, str]:
    """The tags of the version holding `alias`; {} when no version holds it."""
    try:
        return dict(mlflow.MlflowClient().get_model_version_by_alias(name, alias).tags)
    except mlflow.exceptions.MlflowException:
        return {}


def set_alias(name: str, alias: str, version: str) -> None:
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)


def set_tags(tags: dict[str, str]) -> None:
    mlflow.set_tags(tags)


def load_sklearn_model(model_uri: str):
    return mlflow.sklearn.load_model(model_uri)


def runs_table(tracking_uri: str | None, experiment: str, max_results: int = 1000) -> pd.DataFrame:
    """All runs of an experiment as one row each: `params.*`, `metrics.*`, `tags.*` columns, newest first."""
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    if mlflow.get_experiment_by_name(experiment) is None:
        return pd.DataFrame()
    return mlflow.search_runs(experiment_names=[experiment], max_results=max_results, output_format="pandas")


def start_sweep_parent(mlflow_cfg: DictConfig, name: str, tags: dict[str, str]) -> str:
    """Open the parent run of a sweep; its jobs nest their runs under it. Returns its run id."""
    experiment_id = use_experiment(mlflow_cfg)
    run = mlflow.MlflowClient().create_run(experiment_id, run_name=name, tags={**tags, "sweep_role": "parent"})
    return run.info.run_id


def finish_sweep_parent(run_id: str, metric: str) -> dict | None:
    """Record the sweep's best child (by `metric`, higher is better) on the parent run, then close it."""
    client = mlflow.MlflowClient()
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
        order_by=[f"metrics.{metric} DESC"],
    )
    scored = [child for child in children if metric in child.data.metrics]
    client.log_metric(run_id, "child_runs", len(children))
    best = None
    if scored:
        best = {"run_id": scored[0].info.run_id, "run_name": scored[0].info.run_name}
        best[metric] = scored[0].data.metrics[metric]
        client.log_metric(run_id, f"best_{metric}", best[metric])
        client.set_tag(run_id, "best_child_run_id", best["run_id"])
        client.set_tag(run_id, "best_child_run_name", best["run_name"])
    client.set_terminated(run_id)
    return best
