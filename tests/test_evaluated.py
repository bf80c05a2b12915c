"""`make run`'s follow-up: is the train stage's latest MLflow run the one evaluate scored and registered?"""

import json

import pytest

from pipeline import evaluated
from pipeline.evaluated import latest_train_run_evaluated


def write(path, content: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


def test_a_train_run_that_evaluate_skipped_is_noticed(tmp_path):
    train_run, registered = tmp_path / "models" / "train_run.json", tmp_path / "reports" / "registered_model.json"
    write(train_run, {"run_id": "new"})
    # A fresh clone: the committed reports, but evaluate never ran on this machine.
    assert not latest_train_run_evaluated(train_run, registered)
    # Evaluate ran for an earlier train run, DVC skipped it for this one.
    write(registered, {"run_id": "earlier"})
    assert not latest_train_run_evaluated(train_run, registered)
    write(registered, {"run_id": "new"})
    assert latest_train_run_evaluated(train_run, registered)


def test_nothing_to_follow_up_without_a_train_run(tmp_path):
    assert latest_train_run_evaluated(tmp_path / "train_run.json", tmp_path / "registered_model.json")


def test_an_evaluated_train_run_runs_nothing(tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text(f"paths:\n  train_run: {tmp_path / 'train_run.json'}\n  reports: {tmp_path / 'reports'}\n")
    write(tmp_path / "train_run.json", {"run_id": "same"})
    write(tmp_path / "reports" / "registered_model.json", {"run_id": "same"})
    monkeypatch.setattr(evaluated.subprocess, "run", lambda *args, **kwargs: pytest.fail("ran the evaluate stage"))
    assert evaluated.evaluate_latest_train_run(params) == 0
