"""The evaluate stage refits and registers from its own configuration: it must be the one the model was trained with."""

import json

import pytest
from conftest import compose_config
from omegaconf import open_dict

from pipeline.errors import UserInputError
from pipeline.experiments.train_record import read_train_record, write_train_record


def config_at(tmp_path, overrides: list[str]):
    cfg = compose_config(overrides)
    with open_dict(cfg):
        cfg.paths.train_run = str(tmp_path / "train_run.json")
    return cfg


def test_the_configuration_trained_with_is_accepted(tmp_path):
    trained = config_at(tmp_path, ["model=linear_svm", "seed=7"])
    write_train_record(trained, "run-1", "models:/m-1")
    record = read_train_record(config_at(tmp_path, ["model=linear_svm", "seed=7"]))
    assert record["run_id"] == "run-1" and record["model_uri"] == "models:/m-1"


def test_other_settings_are_refused_naming_what_differs(tmp_path):
    write_train_record(config_at(tmp_path, ["model=sgd"]), "run-1", "models:/m-1")
    with pytest.raises(UserInputError) as refused:
        read_train_record(config_at(tmp_path, []))  # conf/'s defaults: logreg
    message = str(refused.value)
    assert "trained (MLflow run run-1) with other settings than this evaluate was given" in message
    assert "model.name='sgd' (trained) against 'logreg' (here)" in message
    assert "more; evaluate it with the configuration it was trained with" in message
    assert "--config-dir . --config-name params" in message and "\n" not in message

    write_train_record(config_at(tmp_path, ["seed=1"]), "run-2", "models:/m-2")
    with pytest.raises(UserInputError) as refused:
        read_train_record(config_at(tmp_path, ["seed=42"]))
    assert "given: model.estimator.random_state=1 (trained) against 42 (here); seed=1 (trained) against 42 (here); " \
        "evaluate it" in str(refused.value)  # fmt: skip

    write_train_record(config_at(tmp_path, ["model=sgd"]), "run-3", "models:/m-3")
    with pytest.raises(UserInputError, match=r"model.estimator.C=not set \(trained\) against 4.0 \(here\)"):
        read_train_record(config_at(tmp_path, ["model=logreg"]))


def test_a_record_written_before_it_kept_the_configuration_is_accepted(tmp_path):
    (tmp_path / "train_run.json").write_text(json.dumps({"run_id": "run-0", "model_uri": "models:/m-0"}))
    assert read_train_record(config_at(tmp_path, ["model=sgd"]))["run_id"] == "run-0"


def test_no_record_says_to_train_first(tmp_path):
    with pytest.raises(UserInputError, match=r"train_run.json: missing; run the train stage first"):
        read_train_record(config_at(tmp_path, []))
