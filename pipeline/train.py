"""Stage 2: fit the classifier chosen by the `features` and `model` config groups; log the run to MLflow."""

import logging

import hydra
import skops.io
from omegaconf import DictConfig

from pipeline import sweep, tracking
from pipeline.classifier import build_classifier
from pipeline.errors import exit_on_user_error
from pipeline.files import atomic_path, write_json
from pipeline.finetune import training_history
from pipeline.metrics import classification_metrics
from pipeline.stage_io import read_split
from pipeline.validation import LABEL, TARGET, TEXT

log = logging.getLogger(__name__)


def target_column(cfg: DictConfig) -> str | None:
    """After prepare, the stance target (when the data has one) lives in the standard `target` column."""
    return TARGET if cfg.data.target_column else None


def fit_classifier(cfg: DictConfig, train):
    classifier = build_classifier(cfg.features, cfg.model, target_column=target_column(cfg))
    return classifier.fit(train, train[LABEL])


def validation_scores(cfg: DictConfig, classifier, validation) -> dict[str, float]:
    predictions = classifier.predict(validation)
    return classification_metrics(validation[LABEL], predictions, cfg.data.labels, cfg.data.stance_labels)


def save_classifier(classifier, path: str) -> None:
    with atomic_path(path) as temporary:
        skops.io.dump(classifier, temporary)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> float:
    train = read_split(cfg.paths.processed, "train")
    validation = read_split(cfg.paths.processed, "validation")
    classifier = fit_classifier(cfg, train)
    scores = validation_scores(cfg, classifier, validation)
    log.info(
        "validation: macro-F1 %.3f  F_avg %.3f  accuracy %.3f",
        scores["macro_f1"],
        scores["f_avg"],
        scores["accuracy"],
    )

    with tracking.training_run(cfg, cfg.data.path, parent_run_id=sweep.parent_run_id()) as run:
        tracking.log_config(cfg)
        tracking.log_dataset(train, cfg.data.path, cfg.data.name, context="training")
        tracking.log_dataset(validation, cfg.data.path, cfg.data.name, context="validation")
        tracking.log_metrics(scores, prefix="val_")
        tracking.log_training_history(training_history(classifier))
        inputs = [TEXT, target_column(cfg)] if target_column(cfg) else [TEXT]
        model_uri = tracking.log_model(classifier, train[inputs].head(3), target_column(cfg))

    log.info("MLflow run %s, model %s", run.info.run_id, model_uri)
    if not sweep.in_sweep():
        # Parallel sweep jobs would overwrite each other's files; their models live in MLflow only.
        save_classifier(classifier, cfg.paths.model)
        write_json(cfg.paths.train_run, {"run_id": run.info.run_id, "model_uri": model_uri})
    # Returned for Hydra sweepers, which optimise the validation score, never the test score.
    return scores["macro_f1"]


if __name__ == "__main__":
    main()
