"""Every features x model config group builds a classifier that fits and tags one label per statement."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import REPO, compose_config

from pipeline.errors import UserInputError
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.models.classifier import build_classifier
from pipeline.train import fit_classifier, validation_scores

# The options that run a sentence encoder need the optional extra, and `text` features suit the fine-tuned encoder
# only; tests/test_embeddings.py and tests/test_finetune.py cover them.
ENCODER_OPTIONS = {"minilm", "word_char_minilm", "minilm_finetune", "text"}
FEATURES = sorted(path.stem for path in (REPO / "conf" / "features").glob("*.yaml") if path.stem not in ENCODER_OPTIONS)
MODELS = sorted(path.stem for path in (REPO / "conf" / "model").glob("*.yaml") if path.stem not in ENCODER_OPTIONS)


def standard(statements: pd.DataFrame) -> pd.DataFrame:
    return statements.rename(columns={"source": "group"})


def test_the_required_config_groups_exist():
    assert {"word", "char", "word_char"} <= set(FEATURES)
    assert {"logreg", "linear_svm", "complement_nb", "sgd"} <= set(MODELS)


# Learning in batches needs stateless features: the out-of-core model pairs with hashing only
# (tests/test_out_of_core.py checks the refusal of the others).
COMBINATIONS = [
    (model, features)
    for model in MODELS
    for features in FEATURES
    if model != "sgd_out_of_core" or features == "hashing"
]


@pytest.mark.parametrize(("model", "features"), COMBINATIONS)
def test_each_combination_fits_and_predicts_one_label_per_row(statements, features, model):
    cfg = compose_config([f"features={features}", f"model={model}"])
    train = standard(statements)
    classifier = fit_classifier(cfg, train)
    as_frame = classifier.predict(train[["id", "text"]])
    assert len(as_frame) == len(train)
    assert set(as_frame) <= set(cfg.data.labels)
    # A plain list and a one-column frame (how MLflow passes a list) give the same answers.
    np.testing.assert_array_equal(classifier.predict(list(train["text"])), as_frame)
    np.testing.assert_array_equal(classifier.predict(train[["text"]].rename(columns={"text": 0})), as_frame)
    probabilities = classifier.predict_proba(train)
    assert probabilities.shape == (len(train), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)  # float32 with hashing features
    # The saved form (skops, as logged to MLflow) loads with the declared trusted types and predicts the same.
    restored = skops.io.loads(skops.io.dumps(classifier), trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(restored.predict(train), as_frame)
    np.testing.assert_array_equal(classifier.predict(train), as_frame)  # saving left the fitted model intact


@pytest.mark.parametrize("model", MODELS)
def test_same_config_and_seed_give_the_same_predictions(statements, model):
    cfg = compose_config([f"model={model}", *(["features=hashing"] if model == "sgd_out_of_core" else [])])
    train = standard(statements)
    first, second = fit_classifier(cfg, train), fit_classifier(cfg, train)
    np.testing.assert_array_equal(first.predict_proba(train), second.predict_proba(train))
    assert validation_scores(cfg, first, train) == validation_scores(cfg, second, train)


def test_a_classifier_learns_the_training_data(statements):
    """A sanity floor: far above chance on the data it was fitted on."""
    cfg = compose_config(["model=logreg", "features=word"])
    train = standard(statements)
    assert validation_scores(cfg, fit_classifier(cfg, train), train)["macro_f1"] > 0.9


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["model.estimator.C=-1"], "'C' parameter"),
        (["features=word", "features.vectorizer.min_df=-3"], "min_df"),
        # Valid one by one, not together: scikit-learn raises a plain ValueError.
        (["+model.estimator.penalty=l1"], "could not be fitted with these settings: Solver lbfgs supports only"),
        (["features=word", "features.vectorizer.ngram_range=[2,1]"], r"ngram_range=\(2, 1\) lower boundary larger"),
        (["features=word", "features.vectorizer.min_df=5000"], "max_df corresponds to < documents than min_df"),
    ],
)
def test_a_hyper_parameter_out_of_range_is_a_user_error_naming_it(statements, overrides, named):
    """A sweep over `model.estimator.C=1,-1` must fail that job alone with one line, not with a traceback."""
    with pytest.raises(UserInputError, match=named):
        fit_classifier(compose_config(overrides), standard(statements))


def test_a_new_model_needs_only_a_yaml_file(statements, tmp_path):
    """Drop a file into a copy of conf/model/ and select it by name: no code changes."""
    import shutil

    from hydra import compose, initialize_config_dir

    conf = Path(shutil.copytree(REPO / "conf", tmp_path / "conf"))
    (conf / "model" / "ridge.yaml").write_text(
        "name: ridge\nkey_params: alpha=${.estimator.alpha}\n"
        "estimator:\n  _target_: sklearn.linear_model.RidgeClassifier\n  alpha: 2.0\n"
    )
    with initialize_config_dir(str(conf), version_base=None):
        cfg = compose(config_name="config", overrides=["model=ridge"])
    classifier = fit_classifier(cfg, standard(statements))
    assert type(classifier.named_steps["classifier"]).__name__ == "RidgeClassifier"
    assert len(classifier.predict(statements)) == len(statements)


def test_the_stance_target_column_can_feed_the_features(statements):
    cfg = compose_config(["data.target_column=conflict", "features=word"])
    train = standard(statements).assign(target=["Syria", "Mali"] * (len(statements) // 2))
    classifier = fit_classifier(cfg, train)
    vocabulary = classifier.named_steps["features"].vocabulary_
    assert "syria" in vocabulary and "mali" in vocabulary


@pytest.mark.parametrize("features", ["minilm", "word_char_minilm"])
def test_naive_bayes_refuses_signed_embedding_features_before_any_work(features):
    # Checked when the classifier is built: no encoder is loaded and nothing is embedded (no extra needed).
    cfg = compose_config([f"features={features}", "model=complement_nb"])
    with pytest.raises(UserInputError) as error:
        build_classifier(cfg.features, cfg.model)
    message = str(error.value)
    assert f"model=complement_nb with features={features}" in message and "negative" in message
    assert "\n" not in message


@pytest.mark.parametrize("features", ["word", "word_char_minilm"])
def test_the_fine_tuned_encoder_refuses_a_vectorizer_before_any_work(features):
    # Checked when the classifier is built, before the corpus is embedded or vectorized (no extra needed).
    cfg = compose_config(["model=minilm_finetune", f"features={features}"])
    with pytest.raises(UserInputError) as error:
        build_classifier(cfg.features, cfg.model)
    message = str(error.value)
    assert "model=minilm_finetune reads the statements' text itself: use features=text" in message
    assert f"not features={features}" in message and "\n" not in message


def test_the_fine_tuned_encoder_builds_with_its_text_features():
    cfg = compose_config(["model=minilm_finetune"])
    classifier = build_classifier(cfg.features, cfg.model)
    assert type(classifier.named_steps["classifier"]).__name__ == "FineTunedEncoderClassifier"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("minilm=abc", "features.vectorizer.transformer_weights.minilm='abc': expected a number"),
        ("minilm=true", "features.vectorizer.transformer_weights.minilm=True: expected a number"),
        ("mini=0.5", "features.vectorizer.transformer_weights.mini: no such part; the parts are word, char, minilm"),
    ],
)
def test_a_feature_union_weight_that_is_not_a_number_of_a_part_is_named_before_any_work(override, expected):
    cfg = compose_config(["features=word_char_minilm", f"++features.vectorizer.transformer_weights.{override}"])
    with pytest.raises(UserInputError, match=expected.replace("(", r"\(")) as error:
        build_classifier(cfg.features, cfg.model)
    assert "\n" not in str(error.value)


def test_numeric_feature_union_weights_build():
    cfg = compose_config(["features=word_char_minilm", "features.vectorizer.transformer_weights.minilm=2"])
    union = build_classifier(cfg.features, cfg.model).named_steps["features"]
    assert union.transformer_weights == {"word": 1.0, "char": 1.0, "minilm": 2}
