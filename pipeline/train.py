"""Stage 2: fit the classifier chosen by the `features` and `model` config groups; log the run to MLflow.

As the DVC stage (`--config-name params`) it also writes the model file the evaluate stage reads. Run by hand
(`python -m pipeline.train model=linear_svm`, or a `--multirun` sweep) it trains on the data set the prepared
splits hold and logs to MLflow only, so that a quick run never changes what `dvc repro` tracks.
"""

import logging
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

# Raised by every scikit-learn estimator for a hyper-parameter out of its range; not re-exported elsewhere.
from sklearn.utils._param_validation import InvalidParameterError

from pipeline.models import skops_first  # noqa: F401  (skops before MLflow: see the module)

# isort: split
from pipeline import tracking
from pipeline.config_errors import reports_config_errors
from pipeline.data.prepared_data import use_prepared_data
from pipeline.data.stage_io import read_split
from pipeline.data.validation import LABEL, TARGET, TEXT
from pipeline.errors import UserInputError, exit_on_user_error
from pipeline.experiments import sweep
from pipeline.experiments.dvc_experiment import MLFLOW_RUN_FILE, experiment_record
from pipeline.experiments.train_record import write_train_record
from pipeline.files import write_json
from pipeline.models.classifier import build_classifier
from pipeline.models.finetune import training_history
from pipeline.models.model_files import save_skops
from pipeline.scoring.metrics import HEADLINE_METRICS, classification_metrics
from pipeline.scoring.target_scores import per_target_metric_keys, per_target_metrics

log = logging.getLogger(__name__)
# The config DVC's stages read (dvc.yaml: --config-name params).
STAGE_CONFIG_NAME = "params"


def input_columns(cfg: DictConfig) -> tuple[str, str | None]:
    """The user's own (text, target) column names: the logged model takes the user's table as it is."""
    return cfg.data.text_column, cfg.data.target_column or None


def fit_classifier(cfg: DictConfig, train):
    text_column, target_column = input_columns(cfg)
    classifier = build_classifier(cfg.features, cfg.model, text_column=text_column, target_column=target_column)
    try:
        return classifier.fit(train, train[LABEL])
    except InvalidParameterError as error:
        # scikit-learn checks hyper-parameters when fitting: an override out of range (model.estimator.C=-1) is
        # the user's to fix, and the message names the parameter and its range.
        raise UserInputError(f"{error} (check the model.* and features.* settings)") from None
    except ValueError as error:
        # Settings that are valid one by one but not together (penalty=l1 with the lbfgs solver, ngram_range=[2,1],
        # a min_df above the statement count): scikit-learn's message names them. The data were validated before.
        raise UserInputError(
            f"the model could not be fitted with these settings: {error} (check the model.* and features.* settings)"
        ) from None


def validation_scores(cfg: DictConfig, classifier, validation) -> dict[str, float]:
    return validation_results(cfg, classifier, validation)[0]


def validation_results(cfg: DictConfig, classifier, validation) -> tuple[dict[str, float], dict]:
    """The validation split's scores, and each stance target's ({} for data without targets): what sweeps choose
    by, and what a researcher compares targets by before the test split is looked at."""
    predictions = classifier.predict(validation)
    labels, stance_labels = list(cfg.data.labels), list(cfg.data.stance_labels)
    scores = classification_metrics(validation[LABEL], predictions, labels, stance_labels)
    return scores, per_target_metrics(validation, predictions, labels, stance_labels)


def selection_metric(cfg: DictConfig) -> str:
    metric = cfg.selection_metric
    if metric not in HEADLINE_METRICS:
        raise UserInputError(f"selection_metric={metric!r}: expected one of {', '.join(HEADLINE_METRICS)}")
    return metric


def model_input_example(cfg: DictConfig, train):
    """A few training rows under the user's column names: the logged model's input example."""
    text_column, target_column = input_columns(cfg)
    renamed = {TEXT: text_column, TARGET: target_column}
    columns = [TEXT, TARGET] if target_column else [TEXT]
    return train[columns].head(3).rename(columns=renamed)


def save_classifier(classifier, path: str) -> None:
    # Byte-for-byte the same file for the same config, data and seed: dvc.lock does not change on a retrain.
    save_skops(classifier, path)


def writes_stage_outputs() -> bool:
    # Parallel sweep jobs would overwrite each other's files; quick runs must not change DVC's outputs.
    return HydraConfig.get().job.config_name == STAGE_CONFIG_NAME and not sweep.in_sweep()


@reports_config_errors
@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> float:
    started_at = time.time()  # the MLflow run opens after the fit; its duration counts from here
    use_prepared_data(cfg, list(HydraConfig.get().overrides.task))
    tracking.ensure_reachable(cfg.mlflow)
    if writes_stage_outputs():  # the evaluate stage will register this model: refuse now, not after the fit
        tracking.check_registered_model_identity(cfg.mlflow.registered_model, tracking.dataset_identity(cfg.data))
    metric = selection_metric(cfg)
    train = read_split(cfg.paths.processed, "train")
    validation = read_split(cfg.paths.processed, "validation")
    classifier = fit_classifier(cfg, train)
    scores, per_target = validation_results(cfg, classifier, validation)
    log.info(
        "%s validation: macro-F1 %.3f  F_avg %.3f  accuracy %.3f",
        cfg.data.name,
        scores["macro_f1"],
        scores["f_avg"],
        scores["accuracy"],
    )

    with tracking.training_run(cfg, cfg.data.path, sweep.parent_run_id(), started_at) as run:
        tracking.log_config(cfg)
        tracking.log_dataset(train, cfg.data.path, cfg.data.name, context="training")
        tracking.log_dataset(validation, cfg.data.path, cfg.data.name, context="validation")
        tracking.log_metrics(scores, prefix="val_")
        if per_target:
            tracking.log_metrics(per_target_metric_keys(per_target, split="val"))
        tracking.log_training_history(*training_history(classifier))
        model_uri = tracking.log_model(classifier, model_input_example(cfg, train), *input_columns(cfg))

    log.info("MLflow run %s, model %s", run.info.run_id, model_uri)
    if writes_stage_outputs():
        save_classifier(classifier, cfg.paths.model)
        write_train_record(cfg, run.info.run_id, model_uri)
        write_json(Path(cfg.paths.reports) / MLFLOW_RUN_FILE, experiment_record(run.info.run_id))
    # Returned for Hydra sweepers, which optimise the validation score, never the test score.
    return scores[metric]


if __name__ == "__main__":
    main()
