"""Stage 3: score the trained classifier on the test split, beside a majority-class baseline; register it."""

import hashlib
import importlib.metadata
import logging
from dataclasses import replace
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from pipeline.models import skops_first  # noqa: F401  (skops before MLflow: see the module)

# isort: split
from pipeline import tracking
from pipeline.config_errors import reports_config_errors
from pipeline.data.prepared_data import data_digest, prepared_digest, use_prepared_data
from pipeline.data.stage_io import read_split
from pipeline.data.validation import KEY, LABEL, TARGET, statement_keys
from pipeline.errors import UserInputError, exit_on_user_error
from pipeline.experiments.tracking_server import TrackingServerUnavailable, is_network_failure
from pipeline.experiments.train_record import read_train_record
from pipeline.files import atomic_path, write_json, write_text
from pipeline.inference import first_line, load_skops
from pipeline.models import refit
from pipeline.models.trusted_loading import TRUST_HINT
from pipeline.scoring import real_text, reports
from pipeline.scoring.champion import ChampionDecision, comparison_problem, decide, mcnemar_p_value
from pipeline.scoring.metrics import HEADLINE_METRICS, classification_metrics, majority_baseline_metrics
from pipeline.scoring.target_scores import per_target_metric_keys, per_target_metrics
from pipeline.train import input_columns

log = logging.getLogger(__name__)
# The champion gate's metrics: the candidate's and the re-scored champion's score, and the McNemar p-value.
GATE_PREFIX = "vs_champion_"


def load_classifier(path: str):
    if not Path(path).is_file():
        raise UserInputError(f"{path}: missing; run the train stage first (dvc repro, or python -m pipeline.train)")
    return load_skops(Path(path))


def evaluate(cfg: DictConfig, classifier, train, test) -> dict:
    """Test metrics, baseline metrics and the artifacts that explain them, as plain values."""
    labels, stance_labels = list(cfg.data.labels), list(cfg.data.stance_labels)
    predictions = classifier.predict(test)
    probabilities = classifier.predict_proba(test) if hasattr(classifier, "predict_proba") else None
    # id, label, predicted first (DVC's confusion plot reads label and predicted), then the target if there is one.
    scored = test[["id", LABEL]].assign(predicted=predictions)
    return {
        "metrics": classification_metrics(test[LABEL], predictions, labels, stance_labels),
        "baseline": majority_baseline_metrics(train[LABEL], test[LABEL], labels, stance_labels),
        "per_target": per_target_metrics(test, predictions, labels, stance_labels),
        "predictions": scored.assign(target=test[TARGET]) if TARGET in test else scored,
        "misclassified": reports.misclassified_statements(test, predictions, probabilities, classifier.classes_),
        "report": reports.text_report(test[LABEL], predictions, labels),
        "top_features": reports.top_features_per_class(classifier, cfg.evaluate.top_features),
        "figures": {
            "confusion_matrix.png": reports.confusion_matrix_figure(test[LABEL], predictions, labels),
            "confusion_matrix_normalized.png": reports.confusion_matrix_figure(
                test[LABEL], predictions, labels, normalize="true"
            ),
        },
    }


def write_reports(results: dict, reports_dir: Path) -> None:
    """The files dvc.yaml declares: metrics for `dvc metrics`, predictions for `dvc plots`, the rest to read."""
    # Headline scores only, so that `dvc metrics show` and `dvc exp show` stay readable; per-class beside them.
    headline = {name: results["metrics"][name] for name in HEADLINE_METRICS}
    per_class = {name: value for name, value in results["metrics"].items() if "/" in name}
    write_json(reports_dir / "metrics.json", {"test": headline, "baseline": results["baseline"]})
    write_json(reports_dir / "per_class_metrics.json", per_class)
    # Written, as {}, for data without targets too: dvc.yaml declares it, and no earlier data set's scores remain.
    write_json(reports_dir / "per_target_metrics.json", results["per_target"])
    with atomic_path(reports_dir / "test_predictions.csv") as temporary:
        results["predictions"].to_csv(temporary, index=False)
    write_text(reports_dir / "classification_report.txt", results["report"])
    write_json(reports_dir / "top_features.json", results["top_features"] or {})
    for name, figure in results["figures"].items():
        with atomic_path(reports_dir / name) as temporary:
            figure.savefig(temporary, format="png")


def log_results(results: dict) -> None:
    tracking.log_metrics(results["metrics"], prefix="test_")
    tracking.log_metrics(results["baseline"], prefix="baseline_")
    if results["per_target"]:
        tracking.log_metrics(per_target_metric_keys(results["per_target"]))
        table = pd.DataFrame([{"target": target, **scores} for target, scores in results["per_target"].items()])
        tracking.log_table(table, "per_target_metrics.json")
    tracking.log_text(results["report"], "classification_report.txt")
    tracking.log_table(results["misclassified"], "misclassified_test_statements.json")
    if results["top_features"]:
        tracking.log_dict(results["top_features"], "top_features.json")
    for name, figure in results["figures"].items():
        tracking.log_figure(figure, name)


def error_summary(error: Exception) -> str:
    """An error's first line, or its type where it has no message: what the stage reports of a model it cannot load."""
    return first_line(str(error)) if str(error).strip() else type(error).__name__


def rescore_champion(cfg: DictConfig, champion_version, test) -> tuple[list | None, str | None]:
    """The champion's predictions on this test split, or why it cannot be scored (a problem, not a crash)."""
    name, version = cfg.mlflow.registered_model, champion_version.version
    try:
        # The version users load must load, whatever is scored: a broken champion is reported (and replaced only
        # with champion.replace_broken).
        champion = tracking.load_sklearn_model(f"models:/{name}/{version}")
        # A champion refitted on all labels has seen this test split: score its held-out twin, as candidates are.
        if held_out_twin := refit.held_out_twin(dict(champion_version.tags)):
            champion = tracking.load_sklearn_model(held_out_twin)
        predictions = champion.predict(test)
    except Exception as error:  # a corrupt, deleted or foreign champion must not stop the stage; report it
        uri = f"models:/{name}/{version}"
        # The loader's messages name the model and, for a foreign one, --trust-model, which the stage does not have.
        message = error_summary(error).removeprefix(f"{uri}: ").removesuffix(f"; {TRUST_HINT}")
        log.warning("the champion %s could not be re-scored: %s", uri, message)
        return None, f"could not be loaded or scored ({uri}: {message})"
    unknown = sorted(set(map(str, getattr(champion, "classes_", []))) - set(cfg.data.labels))
    if unknown:
        return None, f"predicts labels {unknown} outside data.labels (models:/{name}/{version})"
    return list(predictions), None


def unseen_by_champion(champion_version, test) -> np.ndarray:
    """Which test statements the champion's held-out fit was neither trained nor tuned on.

    All of them while the data set is the one it was fitted on. Once statements are added and the data set is split
    again, the new test split holds statements the champion trained on: scored on those it would look better than
    it is, and no new model could beat it. A champion registered before its statements were recorded counts as
    having seen none of them.
    """
    seen = tracking.seen_statements(champion_version.run_id)
    if seen is None:
        return np.ones(len(test), dtype=bool)
    seen_keys = pd.MultiIndex.from_frame(seen[list(KEY)])
    return ~pd.MultiIndex.from_frame(statement_keys(test)).isin(seen_keys)


SAME_MODEL_AS_TAG = "same_model_as"
TRAINED_MODEL_TAG = "trained_model_md5"
PACKAGING_TAG = "packaging_md5"


def same_model_tags(cfg: DictConfig) -> dict[str, str]:
    """The version tags that make two registered versions the same model: the same prepared statements, the same
    trained model file (its bytes depend only on the data, configuration, code and seed; see
    pipeline/models/model_files.py), the same refit setting, which refits that configuration on the same statements,
    and the same packaging."""
    return {
        "data_md5": prepared_digest(cfg),
        TRAINED_MODEL_TAG: data_digest(cfg.paths.model),
        refit.REFIT_TAG: refit.refit_setting(cfg),
        PACKAGING_TAG: packaging_digest(),
    }


def packaging_digest() -> str:
    """md5 of what turns a trained model into the registered one: the refit and MLflow-logging code, and MLflow's
    version. A change there (a fix in the model's signature or requirements, an MLflow upgrade) registers afresh."""
    digest = hashlib.md5(importlib.metadata.version("mlflow").encode())
    for module in (refit, tracking):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def loading_problem(model_uri: str) -> str | None:
    """Why the registered model cannot be loaded (its files damaged or deleted), or None when it loads.

    A store that does not answer is not a damaged model: the stage stops rather than register the same model again.
    """
    try:
        tracking.load_sklearn_model(model_uri)
    except Exception as error:  # reported, and the model registered afresh: never a crash
        if is_network_failure(error):
            raise TrackingServerUnavailable(
                f"{model_uri} holds the same model as this run, but its files could not be fetched "
                f"({tracking.describe_failure(error)}); nothing was registered: run again when the tracking server "
                "and its artifact store answer"
            ) from None
        return f"could not be loaded ({error_summary(error)})"
    return None


def register_deployable_model(cfg: DictConfig, training: dict, results: dict):
    """The registered version that holds this run's deployable model, and the MLflow ModelVersion registered
    before by a run that trained the same model (None when this run registered a new version)."""
    name = cfg.mlflow.registered_model
    identity = tracking.dataset_identity(cfg.data)
    tracking.claim_registered_model(name, identity, cfg.data.get("description"))
    model = same_model_tags(cfg)
    registered = tracking.version_with_tags(name, model)
    if registered and (problem := loading_problem(f"models:/{name}/{registered.version}")):
        log.warning(
            "models:/%s/%s holds the same model but %s: registering it again", name, registered.version, problem
        )
        registered = None
    if registered and registered.run_id == training["run_id"]:
        # This run registered it: the evaluate stage runs again (champion.* changed) or was interrupted before it
        # described and tagged the version. It is this run's version, to describe and tag now.
        return registered.version, None
    if registered:
        # Switching data sets and back, or `dvc repro --force`, trains the same model again: one version is
        # enough, and the refit this run would log is the one that version holds.
        tracking.set_tags({SAME_MODEL_AS_TAG: f"models:/{name}/{registered.version}"})
        log.info(
            "the same model as models:/%s/%s (MLflow run %s): not registered again",
            name,
            registered.version,
            registered.run_id,
        )
        return registered.version, registered
    version_tags = {**identity, "selection_metric": cfg.selection_metric, **model}
    model_uri, refit_tags = refit.log_deployable_model(cfg, training["model_uri"], results["metrics"])
    return tracking.register_model(model_uri, name, {**version_tags, **refit_tags}), None


def gate_champion(
    cfg: DictConfig, version: str, results: dict, test, train_labels, registered_now: bool = True
) -> ChampionDecision:
    """Re-score the current champion on the test statements it never saw, then move the alias only for a real
    improvement there."""
    name, alias, metric = cfg.mlflow.registered_model, cfg.champion.alias, cfg.selection_metric
    labels, stance_labels = list(cfg.data.labels), list(cfg.data.stance_labels)
    candidate_score, baseline_score = results["metrics"][metric], results["baseline"][metric]
    champion_score = p_value = None
    compared = np.ones(len(test), dtype=bool)
    champion_predictions, problem = None, None
    # One look-up of the alias: the version scored, and whose statements are left out, are the same one.
    champion_version = tracking.aliased_model_version(name, alias)
    if champion_version is not None and champion_version.version == version:  # the same model trained again
        reason = f"it is the champion already (version {version})"
        tracking.set_tags({"champion_decision": "kept", "champion_reason": reason})
        return ChampionDecision(False, candidate_score, None, reason, holds_champion=True)
    if champion_version is not None:
        champion_predictions, problem = rescore_champion(cfg, champion_version, test)
    if champion_predictions is not None:
        compared = unseen_by_champion(champion_version, test)
        if not (problem := comparison_problem(compared, cfg.champion.get("min_compared_statements", 1))):
            truth = test[LABEL].to_numpy()[compared]
            candidate = results["predictions"]["predicted"].to_numpy()[compared]
            champion = np.asarray(champion_predictions)[compared]
            if not compared.all():  # like with like: both models, and the baseline, on the same statements
                candidate_score = classification_metrics(truth, candidate, labels, stance_labels)[metric]
                baseline_score = majority_baseline_metrics(train_labels, truth, labels, stance_labels)[metric]
            champion_score = classification_metrics(truth, champion, labels, stance_labels)[metric]
            p_value = mcnemar_p_value(truth, candidate, champion)
    decision = decide(
        candidate_score,
        champion_score,
        cfg.champion.min_improvement,
        baseline_score=baseline_score,
        min_over_baseline=cfg.champion.min_over_baseline,
        champion_problem=problem,
        replace_broken=cfg.champion.replace_broken,
        p_value=p_value,
        max_p_value=cfg.champion.get("max_p_value"),
        metric=metric,
    )
    if champion_score is not None and not compared.all():
        reason = (
            f"{decision.reason}, on the {compared.sum()} of {len(test)} test statements the champion never saw "
            "(the data were split differently from the champion's: statements added or removed, or another seed or "
            "split setting; so these scores are not the test split's)"
        )
        decision = replace(decision, reason=reason)
    if decision.promote:
        tracking.set_alias(name, alias, version)
    # No "/" in these names: MLflow's charts put every "<section>/..." metric before the metrics without one
    # (where test_macro_f1 is), and sort those by name: vs_champion_* comes after test_* and val_*.
    gate_scores = {f"{GATE_PREFIX}candidate_{metric}": decision.candidate_score}
    if champion_score is not None:
        gate_scores[f"{GATE_PREFIX}champion_{metric}"] = champion_score
        gate_scores[f"{GATE_PREFIX}compared_statements"] = int(compared.sum())
    if p_value is not None:
        gate_scores[f"{GATE_PREFIX}mcnemar_p_value"] = p_value
    tracking.log_metrics(gate_scores)
    outcome = {"champion_decision": "promoted" if decision.promote else "kept", "champion_reason": decision.reason}
    tracking.set_tags(outcome)
    # A version registered before keeps the decision made then, as it keeps its description, unless it is promoted.
    if registered_now or decision.promote:
        tracking.set_version_tags(name, version, outcome)
    return decision


@reports_config_errors
@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    use_prepared_data(cfg, list(HydraConfig.get().overrides.task))
    tracking.ensure_reachable(cfg.mlflow)
    training = read_train_record(cfg)  # before any report is written: this config must be the one trained with
    train = read_split(cfg.paths.processed, "train")
    test = read_split(cfg.paths.processed, "test")
    classifier = load_classifier(cfg.paths.model)
    results = evaluate(cfg, classifier, train, test)
    metrics, baseline = results["metrics"], results["baseline"]
    log.info(
        "test: macro-F1 %.3f  F_avg %.3f  accuracy %.3f   (majority baseline: macro-F1 %.3f)",
        metrics["macro_f1"],
        metrics["f_avg"],
        metrics["accuracy"],
        baseline["macro_f1"],
    )
    name = cfg.mlflow.registered_model
    with tracking.resumed_run(cfg.mlflow, training["run_id"]) as run:
        log_results(results)
        # What this run's model saw, for a later gate that may hold it as champion against a data set split again.
        validation = read_split(cfg.paths.processed, "validation")
        tracking.log_seen_statements(statement_keys(pd.concat([train, validation])))
        real_text.log_real_text_checks(cfg, classifier)
        version, registered = register_deployable_model(cfg, training, results)
        decision = gate_champion(cfg, version, results, test, train[LABEL], registered_now=registered is None)
        split_sizes = {"train": len(train), "validation": len(validation), "test": len(test)}
        if registered is None:  # a version registered before keeps the description of its own run
            tracking.describe_version(name, version, cfg.data.name, results, decision, split_sizes)
    log.info("models:/%s/%s; champion: %s (%s)", name, version, decision.promote, decision.reason)
    # The reports and the registration record together, after the last step that can fail or be interrupted: the
    # reports folder never holds this run's scores beside an earlier run's registration.
    reports_dir = Path(cfg.paths.reports)
    write_reports(results, reports_dir)
    write_json(
        reports_dir / "registered_model.json",
        {
            "uri": f"models:/{name}/{version}",
            "run_id": training["run_id"],
            "experiment_id": run.info.experiment_id,
            # Where the run and model are: the summary names this store, which is not always the local one.
            "tracking_uri": tracking.resolve_tracking_uri(cfg.mlflow.get("tracking_uri")),
            "champion_uri": f"models:/{name}@{cfg.champion.alias}",
            "promoted": decision.promote,
            "refit": refit.refit_setting(cfg),
            # Registered before, by the run named here, when this run trained the same model (see same_model_tags).
            "registered_before_by": registered.run_id if registered else None,
            "holds_champion": decision.promote or decision.holds_champion,
            # The summary ranks the targets by it.
            "selection_metric": cfg.selection_metric,
            "decision": decision.reason,
            # The model's input columns are the data set's own (a DataFrame with a "text" column fits only some).
            "input_columns": [column for column in input_columns(cfg) if column],
        },
    )


if __name__ == "__main__":
    main()
