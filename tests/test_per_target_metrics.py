"""Per-target test scores (SemEval-style data with a target column): worked out by hand, written to
reports/per_target_metrics.json and logged to the run; data without targets gets the reports it always had."""

import json

import pandas as pd
import pytest
from conftest import FIXTURE_CSV, REPO, compose_config

from pipeline.evaluate import evaluate, log_results, write_reports
from pipeline.prepare import prepare
from pipeline.scoring.metrics import f_avg
from pipeline.scoring.target_scores import per_target_metric_keys, per_target_metrics, target_metric_names
from pipeline.train import fit_classifier, validation_results, validation_scores

LABELS = ["FAVOR", "AGAINST", "NONE"]
STANCES = LABELS[:2]
SEMEVAL_OVERRIDES = ["data=semeval2016", f"data.path={REPO / 'tests' / 'fixtures' / 'semeval2016'}"]
SEMEVAL_TARGETS = [
    "Atheism",
    "Climate Change is a Real Concern",
    "Feminist Movement",
    "Hillary Clinton",
    "Legalization of Abortion",
]


def test_per_target_scores_by_hand():
    test = pd.DataFrame(
        {
            "id": ["h1", "a1", "a2", "a3", "a4"],
            "label": ["AGAINST", "FAVOR", "FAVOR", "AGAINST", "NONE"],
            "target": ["Hillary Clinton", "Atheism", "Atheism", "Atheism", "Atheism"],
        }
    )
    predicted = ["AGAINST", "FAVOR", "AGAINST", "AGAINST", "NONE"]
    scores = per_target_metrics(test, predicted, LABELS, STANCES)
    assert list(scores) == ["Atheism", "Hillary Clinton"]  # sorted, whatever the rows' order
    # Atheism: FAVOR precision 1, recall 1/2 -> F1 2/3; AGAINST precision 1/2, recall 1 -> F1 2/3; NONE F1 1.
    assert scores["Atheism"] == pytest.approx(
        {"statements": 4, "accuracy": 3 / 4, "f_avg": 2 / 3, "macro_f1": (2 / 3 + 2 / 3 + 1) / 3}
    )
    # One statement, right: AGAINST F1 1; FAVOR and NONE neither occur nor are predicted and score 0.
    assert scores["Hillary Clinton"] == pytest.approx(
        {"statements": 1, "accuracy": 1.0, "f_avg": 1 / 2, "macro_f1": 1 / 3}
    )
    assert isinstance(scores["Hillary Clinton"]["statements"], int)
    assert per_target_metrics(test.drop(columns="target"), predicted, LABELS, STANCES) == {}


def test_target_names_in_metric_keys_are_ones_mlflow_takes_and_never_collide():
    from mlflow.utils.validation import _validate_metric_name

    targets = ["Hillary Clinton", "AC/DC", "AC_DC", "Brexit: leave", "..", "Énergie nucléaire", "x" * 300]
    names = target_metric_names(targets)
    assert names == target_metric_names(list(reversed(targets)))  # the same on every run
    assert names["Hillary Clinton"] == "Hillary Clinton" and names["Énergie nucléaire"] == "Énergie nucléaire"
    # A target MLflow takes keeps its name; one made safe yields to it.
    assert (names["AC_DC"], names["AC/DC"]) == ("AC_DC", "AC_DC-2")
    assert names["Brexit: leave"] == "Brexit_ leave" and names[".."] == "__"
    assert len(set(names.values())) == len(targets)
    keys = per_target_metric_keys({target: {"f_avg": 0.5, "statements": 3} for target in targets})
    assert keys["test_by_target/Hillary Clinton/f_avg"] == 0.5 and keys["test_by_target/AC_DC-2/statements"] == 3.0
    for key in keys:
        _validate_metric_name(key)


def test_the_validation_split_is_scored_per_target_too():
    cfg = compose_config(SEMEVAL_OVERRIDES)
    semeval_splits = prepare(cfg)
    classifier = fit_classifier(cfg, semeval_splits["train"])
    validation = semeval_splits["validation"]
    scores, per_target = validation_results(cfg, classifier, validation)
    assert scores == validation_scores(cfg, classifier, validation)
    assert list(per_target) == sorted(validation["target"].unique())
    assert sum(target["statements"] for target in per_target.values()) == len(validation)
    keys = per_target_metric_keys(per_target, split="val")
    assert keys[f"val_by_target/{SEMEVAL_TARGETS[0]}/f_avg"] == per_target[SEMEVAL_TARGETS[0]]["f_avg"]
    no_targets = compose_config([f"data.path={FIXTURE_CSV}"])
    frame = pd.read_csv(FIXTURE_CSV).rename(columns={"source": "group"})
    assert validation_results(no_targets, fit_classifier(no_targets, frame), frame)[1] == {}


def evaluated(overrides: list[str], reports_dir, tracking_uri) -> tuple[dict, pd.DataFrame, object]:
    """The evaluate stage's scoring, reports and logging (not its registering) for a model fitted on `overrides`'s
    data: (results, test split, the MLflow run)."""
    import mlflow

    cfg = compose_config(overrides)
    splits = prepare(cfg)
    classifier = fit_classifier(cfg, splits["train"])
    results = evaluate(cfg, classifier, splits["train"], splits["test"])
    write_reports(results, reports_dir)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("per-target")  # in this store: an earlier test's active experiment is in another
    with mlflow.start_run() as run:
        log_results(results)
    return results, splits["test"], mlflow.MlflowClient().get_run(run.info.run_id)


def test_evaluating_target_data_writes_and_logs_each_targets_scores(tmp_path, tracking_uri):
    import mlflow

    results, test, run = evaluated(SEMEVAL_OVERRIDES, tmp_path, tracking_uri)
    written = json.loads((tmp_path / "per_target_metrics.json").read_text())
    assert list(written) == SEMEVAL_TARGETS and written == results["per_target"]
    assert sum(scores["statements"] for scores in written.values()) == len(test)
    for target, scores in written.items():
        assert set(scores) == {"macro_f1", "f_avg", "accuracy", "statements"}
        for metric, value in scores.items():
            assert run.data.metrics[f"test_by_target/{target}/{metric}"] == pytest.approx(value)
    assert run.data.metrics["test_f_avg"] == pytest.approx(results["metrics"]["f_avg"])

    # The predictions now hold each statement's target: the per-target scores can be worked out again from them.
    predictions = pd.read_csv(tmp_path / "test_predictions.csv", dtype=str)
    assert list(predictions.columns) == ["id", "label", "predicted", "target"]
    for target, rows in predictions.groupby("target"):
        assert f_avg(rows["label"], rows["predicted"], STANCES) == pytest.approx(written[target]["f_avg"])

    table = mlflow.load_table("per_target_metrics.json", run_ids=[run.info.run_id])
    assert list(table["target"]) == SEMEVAL_TARGETS
    assert list(table["statements"]) == [written[target]["statements"] for target in SEMEVAL_TARGETS]
    # A mistake is read with the target its label is a stance towards.
    mistakes = mlflow.load_table("misclassified_test_statements.json", run_ids=[run.info.run_id])
    assert list(mistakes.columns[:5]) == ["id", "text", "target", "label", "predicted"]
    assert set(mistakes["target"]) <= set(SEMEVAL_TARGETS) and len(mistakes) > 0


def test_data_without_targets_keeps_its_reports_and_metrics(tmp_path, tracking_uri):
    import mlflow

    results, _, run = evaluated([f"data.path={FIXTURE_CSV}", "data.extra_eval=[]"], tmp_path, tracking_uri)
    assert results["per_target"] == {}
    # The declared output is there for DVC, and holds nothing.
    assert (tmp_path / "per_target_metrics.json").read_text() == "{}\n"
    assert list(pd.read_csv(tmp_path / "test_predictions.csv").columns) == ["id", "label", "predicted"]
    assert not [name for name in run.data.metrics if "by_target" in name]
    artifacts = {artifact.path for artifact in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert "per_target_metrics.json" not in artifacts and "misclassified_test_statements.json" in artifacts
