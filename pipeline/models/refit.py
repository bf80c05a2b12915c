"""The deployable model: the evaluated configuration refitted on every labelled statement.

The train stage fits on the training split so that the test split can score it. Once it is scored, the same
configuration (features, model, seed) fitted on train + validation + test is the better model to serve: the
learning curve (docs/corpus.md) still climbs, and 30% more labels are worth points. With `refit.all_labels=true`
(the default) the evaluate stage logs that model in the same MLflow run (its name ends in ` - all labels`), beside
the held-out fit's test metrics, and registers it instead of the held-out fit. It is logged at a later step than the
held-out fit, so that in MLflow each model lists its own scores: the held-out fit its validation, test and
real-text scores, the refit its real-text scores (`all_labels_*`). The registered version is tagged so
that nobody mistakes its provenance, and so that the champion gate never scores it on the test split it was fitted on:

    refit                     all_labels
    trained_on                train+validation+test
    trained_statements        1590
    held_out_model_uri        the model scored on the test split (same run)
    held_out_test_<metric>    that model's test scores (macro_f1, f_avg, accuracy)

A refitted model has no test score of its own: its quality is the held-out fit's, and the gate compares held-out
fits with held-out fits (see `held_out_twin`).
"""

import logging

import mlflow
import pandas as pd
from omegaconf import DictConfig

from pipeline import tracking
from pipeline.data.stage_io import read_split
from pipeline.scoring import real_text
from pipeline.scoring.metrics import HEADLINE_METRICS
from pipeline.train import fit_classifier, input_columns, model_input_example

log = logging.getLogger(__name__)

# The refitted model is logged under the run's model name with this added, beside the held-out fit.
MODEL_SUFFIX = " - all labels"
SPLITS = ("train", "validation", "test")
REFIT_TAG = "refit"
REFIT_VALUE = "all_labels"
NO_REFIT = "none"
HELD_OUT_MODEL_TAG = "held_out_model_uri"


def all_labelled(processed_dir: str) -> pd.DataFrame:
    return pd.concat([read_split(processed_dir, split) for split in SPLITS])


def version_tags(held_out_model_uri: str, held_out_metrics: dict[str, float], statements: int) -> dict[str, str]:
    tags = {
        REFIT_TAG: REFIT_VALUE,
        "trained_on": "+".join(SPLITS),
        "trained_statements": str(statements),
        HELD_OUT_MODEL_TAG: held_out_model_uri,
    }
    tags.update({f"held_out_test_{name}": f"{held_out_metrics[name]:.6f}" for name in HEADLINE_METRICS})
    return tags


def refit_setting(cfg: DictConfig) -> str:
    """The `refit` tag of the version this configuration registers."""
    return REFIT_VALUE if cfg.get("refit", {}).get("all_labels", False) else NO_REFIT


def log_deployable_model(cfg: DictConfig, held_out_model_uri: str, held_out_metrics: dict[str, float]):
    """In the active run: the model to register and the tags for its version.

    Without refit, the held-out fit itself (tagged refit=none). With it, the refitted model, logged beside the
    held-out one, with its real-text scores logged as `all_labels_<set>_<metric>`.
    """
    if refit_setting(cfg) == NO_REFIT:
        return held_out_model_uri, {REFIT_TAG: NO_REFIT, "trained_on": "train"}
    statements = all_labelled(cfg.paths.processed)
    classifier = fit_classifier(cfg, statements)
    example = model_input_example(cfg, statements)
    # At a step of its own, so that the refitted model lists its own scores and not the held-out fit's.
    step = tracking.step_after_last(mlflow.active_run().info.run_id)
    model_uri = tracking.log_model(classifier, example, *input_columns(cfg), suffix=MODEL_SUFFIX, step=step)
    real_text.log_real_text_checks(cfg, classifier, prefix="all_labels_", step=step)
    log.info("refitted on all %d labelled statements: %s", len(statements), model_uri)
    return model_uri, version_tags(held_out_model_uri, held_out_metrics, len(statements))


def held_out_twin(version_tags: dict[str, str]) -> str | None:
    """For a version refitted on all labels, the model the champion gate should score instead; else None.

    Re-scoring a refitted model on a test split it was fitted on would inflate its score, and no held-out
    candidate could ever beat it. Its held-out twin (same configuration, fitted on the training split only)
    is scored like every candidate is.
    """
    if version_tags.get(REFIT_TAG) == REFIT_VALUE:
        return version_tags.get(HELD_OUT_MODEL_TAG) or None
    return None
