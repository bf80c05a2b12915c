"""Hashing features and the out-of-core model: stateless features, batch-by-batch learning, through the stages."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import FIXTURE_CSV, REPO, compose_config
from sklearn.feature_extraction.text import HashingVectorizer

from pipeline.errors import UserInputError
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.features.vectorizers import FastHashingVectorizer
from pipeline.inference import load_model
from pipeline.models.classifier import build_classifier
from pipeline.models.out_of_core import BatchedPipeline
from pipeline.train import fit_classifier

OUT_OF_CORE = ["features=hashing", "model=sgd_out_of_core"]


@pytest.mark.parametrize(
    "options", [{}, {"alternate_sign": False, "n_features": 2**10, "binary": True, "dtype": np.float32}]
)
@pytest.mark.parametrize(
    "analyzer", [{"analyzer": "char_wb", "ngram_range": (2, 5)}, {"ngram_range": (1, 2), "strip_accents": "unicode"}]
)
def test_hashed_features_equal_scikit_learns(statements, options, analyzer, monkeypatch):
    texts = statements["text"].tolist() + ["", "a", "Ünïcödé — 北京 🚀 the the the"]
    for batch in (texts, ["a"], [""], [*texts, "null\x00byte"]):
        expected = HashingVectorizer(**analyzer, **options).transform(batch)
        fast = FastHashingVectorizer(**analyzer, **options)
        if "\x00" not in "".join(batch):
            # The vectorised counting must be what runs here, not scikit-learn's loop (which builds the analyzer).
            monkeypatch.setattr(fast, "build_analyzer", lambda: pytest.fail("fell back to scikit-learn's analyzer"))
        actual = fast.transform(batch)
        monkeypatch.undo()
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert (actual != expected).nnz == 0


def test_the_out_of_core_model_learns_in_batches_reproducibly(statements, tmp_path):
    cfg = compose_config([*OUT_OF_CORE, "model.out_of_core.batch_size=16"])
    classifier = fit_classifier(cfg, statements)
    assert isinstance(classifier, BatchedPipeline)
    predictions = classifier.predict(statements)
    assert len(predictions) == len(statements)
    # It learns: most training statements get their own label back (three labels: chance is a third).
    assert (predictions == statements["label"]).mean() > 0.8
    np.testing.assert_array_equal(fit_classifier(cfg, statements).predict(statements), predictions)
    # Features computed ahead in worker processes, or in this one: the same model, coefficient for coefficient.
    one_process = fit_classifier(
        compose_config([*OUT_OF_CORE, "model.out_of_core.batch_size=16", "model.out_of_core.n_jobs=1"]), statements
    )
    assert classifier.n_jobs == -1
    np.testing.assert_array_equal(one_process[-1].coef_, classifier[-1].coef_)
    # Predicting batch by batch gives what one batch gives.
    probabilities = classifier.predict_proba(statements)
    whole = classifier.set_params(batch_size=len(statements)).predict_proba(statements)
    np.testing.assert_allclose(probabilities, whole, rtol=1e-6)
    # One skops file, loaded with the project's trusted types.
    skops.io.dump(classifier, tmp_path / "model.skops")
    loaded = skops.io.load(tmp_path / "model.skops", trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.predict(statements), predictions)


def test_the_out_of_core_model_knows_every_stance_target_it_was_trained_on(statements):
    """stance-predict warns about targets new to the model: it must know the targets of every batch, not of the few
    rows its stateless transforms are fitted on."""
    targets = ["Alpha", "Alpha", *(["Beta", "Gamma", "Delta"] * len(statements))[: len(statements) - 2]]
    train = statements.rename(columns={"source": "group"}).assign(target=targets)
    overrides = ["data.target_column=conflict", "model.out_of_core.batch_size=16"]
    classifier = fit_classifier(compose_config([*OUT_OF_CORE, *overrides]), train)
    in_memory = fit_classifier(compose_config(["features=hashing", "model=sgd", "data.target_column=conflict"]), train)
    assert classifier.steps[0][1].targets_ == in_memory.steps[0][1].targets_ == ["Alpha", "Beta", "Delta", "Gamma"]


def test_hashing_features_also_train_in_memory(statements):
    classifier = fit_classifier(compose_config(["features=hashing", "model=sgd"]), statements)
    assert (classifier.predict(statements) == statements["label"]).mean() > 0.8


def test_out_of_core_with_a_learnt_vocabulary_is_refused_with_a_clear_message():
    cfg = compose_config(["model=sgd_out_of_core"])
    with pytest.raises(UserInputError, match=r"model=sgd_out_of_core with features=word_char: .*features=hashing"):
        build_classifier(cfg.features, cfg.model)


@pytest.mark.slow
def test_prepare_train_evaluate_and_tag_with_the_out_of_core_model(tmp_path):
    """The real stages on the fixture with hashing features and batch learning, then tagging with the result."""
    overrides = [
        *OUT_OF_CORE,
        "model.out_of_core.batch_size=16",
        f"data.path={FIXTURE_CSV}",
        # The stages run in tmp_path: the real-text check's file by its full path.
        f"data.extra_eval=[{REPO / 'data' / 'seed_quotes.csv'}]",
        f"paths.processed={tmp_path / 'processed'}",
        f"paths.model={tmp_path / 'classifier.skops'}",
        f"paths.train_run={tmp_path / 'train_run.json'}",
        f"paths.reports={tmp_path / 'reports'}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}
    # As DVC runs the stages: the composed config in params.yaml.
    commands = [["pipeline.compose_params", *overrides]] + [
        [stage, "--config-dir", str(tmp_path), "--config-name", "params", f"hydra.run.dir={tmp_path / 'outputs'}"]
        for stage in ("pipeline.prepare", "pipeline.train", "pipeline.evaluate")
    ]
    for command in commands:
        result = subprocess.run(
            [sys.executable, "-m", *command], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert 0 <= metrics["test"]["macro_f1"] <= 1
    tagger = load_model(tmp_path / "classifier.skops")
    assert isinstance(tagger.classifier, BatchedPipeline)
    tagged = tagger.tag(pd.read_csv(FIXTURE_CSV)["text"].tolist())
    assert len(tagged) == len(pd.read_csv(FIXTURE_CSV))
    assert set(tagged["label"]) <= {"pro-intervention", "anti-intervention", "neutral"}
