"""Where runs are logged, and how runs are named."""

import json

import pandas as pd
import pytest
from conftest import compose_config

from pipeline.tracking import default_tracking_uri, flatten, resolve_tracking_uri, run_name, set_experiment_tags


def test_queued_dvc_experiments_use_the_store_of_the_repository_they_came_from(tmp_path):
    assert default_tracking_uri(tmp_path) == "sqlite:///mlflow.db"
    workspace = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    assert default_tracking_uri(workspace) == f"sqlite:///{tmp_path / 'project' / 'mlflow.db'}"


def test_config_wins_over_the_environment_which_wins_over_the_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri("sqlite:////data/runs.db") == "sqlite:////data/runs.db"
    assert resolve_tracking_uri(None) == "http://127.0.0.1:5999"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri(None) == "sqlite:///mlflow.db"


def test_run_names_tell_runs_apart():
    assert run_name(compose_config(["model=linear_svm", "features=char"])) == "linear_svm · char · C=0.5"
    searched = compose_config(["model.estimator.C=0.6646459471581082"])
    assert run_name(searched) == "logreg · word_char · C=0.6646"


def test_the_config_is_flattened_into_dotted_params():
    params = flatten(compose_config(["model=logreg"]))
    assert params["model.estimator.C"] == "4.0"
    assert params["features.vectorizer.transformer_list.0.1.ngram_range"] == "[1, 2]"
    assert params["data.labels"] == "['pro-intervention', 'anti-intervention', 'neutral']"


def test_a_large_data_set_is_logged_with_a_digest_of_every_row_and_a_schema_from_its_head(tracking_uri, monkeypatch):
    import mlflow

    from pipeline import tracking

    monkeypatch.setattr(tracking, "SCHEMA_SAMPLE_ROWS", 5)
    frame = pd.DataFrame({"text": [f"statement {n}" for n in range(20)], "label": ["neutral"] * 20})
    changed_far_down = frame.assign(text=frame["text"].where(frame.index != 19, "another statement"))
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("datasets")  # this store's own; an earlier test may have left another one active
    digests = []
    for logged in (frame, changed_far_down):
        with mlflow.start_run() as run:
            tracking.log_dataset(logged, "statements.csv", "statements", context="training")
        (dataset_input,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
        assert dataset_input.dataset.name == "statements"
        schema = json.loads(dataset_input.dataset.schema)["mlflow_colspec"]
        assert {column["name"] for column in schema} == {"text", "label"}
        assert {tag.key: tag.value for tag in dataset_input.tags}["rows"] == "20"
        digests.append(dataset_input.dataset.digest)
    assert digests[0] != digests[1]


def test_a_data_set_another_run_inserted_at_the_same_moment_is_linked_on_a_second_try(tracking_uri, monkeypatch):
    """Two sweep jobs logging the same data set race to insert it; the loser's call is made again, not failed."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline import tracking

    real_log_input, calls = mlflow.log_input, []

    def lose_the_race_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:  # the text a PostgreSQL-backed tracking server answers with
            raise MlflowException(
                "BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "
                '"dataset_pk"'
            )
        return real_log_input(*args, **kwargs)

    monkeypatch.setattr(mlflow, "log_input", lose_the_race_once)
    frame = pd.DataFrame({"text": ["a statement", "another"], "label": ["neutral", "neutral"]})
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("datasets")
    with mlflow.start_run() as run:
        tracking.log_dataset(frame, "statements.csv", "statements", context="training")
    assert len(calls) == 2
    (dataset_input,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert dataset_input.dataset.name == "statements"


def test_other_store_errors_are_not_retried_when_logging_a_data_set(tracking_uri, monkeypatch):
    import mlflow
    import pytest
    from mlflow.exceptions import MlflowException

    from pipeline import tracking

    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise MlflowException("INVALID_PARAMETER_VALUE: the data set's schema is too long")

    monkeypatch.setattr(mlflow, "log_input", refuse)
    frame = pd.DataFrame({"text": ["a statement"], "label": ["neutral"]})
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("datasets")
    with mlflow.start_run(), pytest.raises(MlflowException, match="too long"):
        tracking.log_dataset(frame, "statements.csv", "statements", context="training")
    assert len(calls) == 1


def test_a_logged_model_is_registered_as_mlflow_registers_it_without_its_messages(tracking_uri, capfd):
    import mlflow
    from sklearn.dummy import DummyClassifier

    from pipeline import tracking

    classifier = DummyClassifier().fit(pd.DataFrame({"text": ["a", "b"]}), ["neutral", "neutral"])
    with mlflow.start_run() as run:
        model_uri = tracking.log_model(classifier, pd.DataFrame({"text": ["a"]}), "text", None)
    capfd.readouterr()
    first = tracking.register_model(model_uri, "quiet-registry", {"dataset": "fixture"})
    assert capfd.readouterr().err == ""
    # The same model registered by MLflow's own function, for comparison (it prints both messages).
    second = mlflow.register_model(model_uri, "quiet-registry", tags={"dataset": "fixture"}).version
    assert "already exists" in capfd.readouterr().err
    client = mlflow.MlflowClient()
    ours, mlflows = (client.get_model_version("quiet-registry", version) for version in (first, second))
    assert (str(first), str(second)) == ("1", "2")
    assert ours.run_id == mlflows.run_id == run.info.run_id
    assert (ours.source, ours.model_id, ours.tags) == (mlflows.source, mlflows.model_id, mlflows.tags)
    assert mlflow.pyfunc.load_model(f"models:/quiet-registry/{first}").metadata.model_id == model_uri[len("models:/") :]


def test_a_fine_tunes_history_logs_the_epochs_run_and_the_epoch_kept(tracking_uri):
    """Early stopping after epoch 3 keeps epoch 2's weights; the run name shows only max_epochs."""
    import mlflow

    from pipeline import tracking

    history = [
        {"epoch": 1.0, "train_loss": 0.8, "val_macro_f1": 0.68},
        {"epoch": 2.0, "train_loss": 0.4, "val_macro_f1": 0.75},
        {"epoch": 3.0, "train_loss": 0.2, "val_macro_f1": 0.71},
    ]
    with mlflow.start_run() as run:
        tracking.log_training_history(history, best_epoch=2)
    client = mlflow.MlflowClient()
    metrics = client.get_run(run.info.run_id).data.metrics
    assert (metrics["epochs_run"], metrics["best_epoch"]) == (3.0, 2.0)
    assert [point.value for point in client.get_metric_history(run.info.run_id, "epoch/val_macro_f1")] == [
        0.68,
        0.75,
        0.71,
    ]


def test_a_tag_another_sweep_job_set_first_is_accepted_and_any_other_failure_is_not(tmp_path, monkeypatch):
    """Parallel jobs insert the same new experiment tag; the loser's duplicate-key error means the tag is there."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment(client.create_experiment("race"))
    real_set = mlflow.MlflowClient.set_experiment_tag

    def lost_the_race(self, experiment_id, key, value):
        real_set(self, experiment_id, key, value)  # the other job's insert
        raise MlflowException("duplicate key value violates unique constraint")

    def failed(self, experiment_id, key, value):
        raise MlflowException("the store is read-only")

    mlflow.set_tracking_uri(uri)  # the store set_experiment_tags' own client talks to, as in a stage
    try:
        monkeypatch.setattr(mlflow.MlflowClient, "set_experiment_tag", lost_the_race)
        set_experiment_tags(experiment, {"mlflow.experimentKind": "custom_model_development"})
        tags = client.get_experiment(experiment.experiment_id).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development"
        monkeypatch.setattr(mlflow.MlflowClient, "set_experiment_tag", failed)
        with pytest.raises(MlflowException, match="read-only"):
            set_experiment_tags(experiment, {"mlflow.note.content": "a description"})
    finally:
        mlflow.set_tracking_uri(None)


def test_a_training_run_can_start_when_the_stage_began_and_keeps_the_tags_mlflow_gives_a_run(tracking_uri):
    """The train stage opens its run after the fit: the run's start time is the stage's, so that MLflow's Duration
    column shows the fit too. Created that way, the run keeps its system tags, its name and its parent."""
    import time

    import mlflow
    from conftest import FIXTURE_CSV

    from pipeline import tracking

    cfg = compose_config([f"mlflow.tracking_uri={tracking_uri}"])
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment(cfg.mlflow.experiment)
        with mlflow.start_run(run_name="sweep") as parent:
            pass
        began = time.time() - 42.5
        with tracking.training_run(cfg, str(FIXTURE_CSV), parent.info.run_id, started_at=began) as run:
            tracking.log_metrics({"val_macro_f1": 0.5})
        logged = mlflow.get_run(run.info.run_id)
        assert logged.info.start_time == int(began * 1000)
        assert logged.info.end_time - logged.info.start_time >= 42_500
        assert logged.info.status == "FINISHED" and logged.info.run_name == run_name(cfg)
        tags = logged.data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id and tags["mlflow.runName"] == run_name(cfg)
        assert {"mlflow.user", "mlflow.source.name", "mlflow.source.type"} <= set(tags)
        assert tags["model"] == "logreg" and tags["dataset"] == cfg.data.name
        # Without a start time, the run starts when it is opened, as before.
        with tracking.training_run(cfg, str(FIXTURE_CSV)) as run:
            pass
        assert mlflow.get_run(run.info.run_id).info.start_time >= int(began * 1000) + 42_000
    finally:
        mlflow.set_tracking_uri(None)
