"""Labelling more statements: the data set is split again, and the champion gate still compares like with like.

The champion is trained on nine articles in ten; then the tenth is labelled and the pipeline runs again. The new
test split now holds statements the champion was trained on, which would flatter it; the gate must score both
models on the test statements the champion never saw.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import LEFT_BEHIND, REPO, run

from pipeline.scoring.metrics import classification_metrics

pytestmark = pytest.mark.slow

LABELS = ["pro-intervention", "anti-intervention", "neutral"]
STANCE_LABELS = LABELS[:2]
SPLITS = ("train", "validation", "test")


def stage(project: Path, module: str, *overrides: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", module, "--config-dir", ".", "--config-name", "params", *overrides]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{module} failed:\n{result.stderr}"


def run_pipeline(project: Path, *evaluate_overrides: str) -> None:
    for module in ("pipeline.prepare", "pipeline.train"):
        stage(project, module)
    stage(project, "pipeline.evaluate", *evaluate_overrides)


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """The project after both runs, and the splits the champion was fitted on."""
    project = tmp_path_factory.mktemp("growing") / "project"
    shutil.copytree(REPO, project, ignore=LEFT_BEHIND)
    run([sys.executable, "-m", "pipeline.compose_params"], project)
    corpus_file = project / "data/raw/statements.csv"
    corpus = pd.read_csv(corpus_file)
    later = set(sorted(corpus["source"].unique())[::10])  # every tenth article is labelled later
    corpus[~corpus["source"].isin(later)].to_csv(corpus_file, index=False)
    run_pipeline(project)
    before = {split: pd.read_parquet(project / f"data/processed/{split}.parquet") for split in SPLITS}
    shutil.copy(REPO / "data/raw/statements.csv", corpus_file)
    run_pipeline(project)
    return project, before


def client(project: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def macro_f1(truth, predicted) -> float:
    return classification_metrics(truth, predicted, LABELS, STANCE_LABELS)["macro_f1"]


def test_the_gate_scores_both_models_on_the_test_statements_the_champion_never_saw(grown):
    import mlflow

    project, before = grown
    store = client(project)
    first, second = sorted(store.search_model_versions("name = 'stance-classifier'"), key=lambda v: int(v.version))
    gate = store.get_run(second.run_id).data.metrics
    test = pd.read_parquet(project / "data/processed/test.parquet")
    seen = pd.concat([before["train"], before["validation"]])["id"]
    unseen = ~test["id"].isin(seen).to_numpy()
    # Split again, the test split holds statements the champion trained on, and enough it did not.
    assert 30 <= unseen.sum() < len(test)
    assert gate["vs_champion_compared_statements"] == unseen.sum()

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    champion = mlflow.sklearn.load_model(first.tags["held_out_model_uri"])  # the refit's held-out twin
    candidate = pd.read_csv(project / "reports/test_predictions.csv")["predicted"].to_numpy()
    truth = test["label"].to_numpy()[unseen]
    assert gate["vs_champion_champion_macro_f1"] == pytest.approx(macro_f1(truth, champion.predict(test[unseen])))
    assert gate["vs_champion_candidate_macro_f1"] == pytest.approx(macro_f1(truth, candidate[unseen]))
    # The whole split would have flattered the champion with statements it was fitted on.
    assert macro_f1(test["label"], champion.predict(test)) > gate["vs_champion_champion_macro_f1"] + 0.02
    decision = json.loads((project / "reports/registered_model.json").read_text())["decision"]
    assert f"macro_f1 {gate['vs_champion_candidate_macro_f1']:.4f}" in decision
    assert f"on the {unseen.sum()} of {len(test)} test statements the champion never saw" in decision


def test_too_few_unseen_statements_keep_the_champion_and_say_why(grown):
    """The first model as champion again (the second run's model, promoted, would be the champion already): the
    evaluate stage run again for the second run compares the two on the statements the first never saw."""
    project, _ = grown
    store = client(project)
    first, _ = sorted(store.search_model_versions("name = 'stance-classifier'"), key=lambda v: int(v.version))
    store.set_registered_model_alias("stance-classifier", "champion", first.version)
    champion_before = store.get_model_version_by_alias("stance-classifier", "champion").version
    stage(project, "pipeline.evaluate", "champion.min_compared_statements=100000")
    registered = json.loads((project / "reports/registered_model.json").read_text())
    assert not registered["promoted"]
    assert "too few (champion.min_compared_statements=100000; lower it" in registered["decision"]
    assert client(project).get_model_version_by_alias("stance-classifier", "champion").version == champion_before
