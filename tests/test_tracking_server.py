"""Reaching a tracking server: the quick check, the retry bounds, credentials kept out of URIs, kept runs on disk."""

import http.server
import os
import threading
import time

import pandas as pd
import pytest
from local_server import free_port
from omegaconf import OmegaConf
from sklearn.dummy import DummyClassifier

from pipeline import tracking
from pipeline.errors import UserInputError
from pipeline.experiments import unsent_runs
from pipeline.experiments.tracking_server import TrackingServerUnavailable, bound_http_retries, check_answers, redact


def test_a_refused_connection_is_reported_at_once_with_the_uri_and_the_cause():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingServerUnavailable) as error:
        check_answers(uri, timeout=3)
    assert time.monotonic() - started < 3
    assert str(error.value).startswith(f"MLflow tracking server {uri} did not answer: Connection refused")


def test_a_server_that_accepts_but_never_answers_is_given_up_after_the_timeout():
    class Silent(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(5)

    server = http.server.HTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(TrackingServerUnavailable, match="did not answer within 1 s: timed out"):
            check_answers(f"http://127.0.0.1:{server.server_port}", timeout=1)
        assert time.monotonic() - started < 3
    finally:
        server.shutdown()


def test_a_sqlite_store_is_not_checked():
    check_answers("sqlite:///mlflow.db", timeout=1)


@pytest.mark.parametrize(
    ("uri", "meant"),
    [
        ("mlflow.db", "sqlite:///mlflow.db"),
        ("/data/runs.db", "sqlite:////data/runs.db"),
        ("file:///tmp/mlruns", "sqlite:///mlflow.db"),
    ],
)
def test_a_path_for_a_tracking_uri_is_refused_with_what_was_likely_meant(uri, meant, monkeypatch):
    """MLflow 3 would refuse its file store with a message about migrating; the usual slip is a missing sqlite:///."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(UserInputError, match=f"tracking URI '{uri}' is a path.*did you mean {meant}\\?"):
        check_answers(uri, timeout=1)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a user who keeps a file store on purpose
    check_answers(uri, timeout=1)


@pytest.mark.parametrize("uri", ["htp://127.0.0.1:5050", "sqlit:///mlflow.db", "postgres://db/mlflow"])
def test_a_scheme_mlflow_cannot_open_is_refused_before_any_work(uri):
    """MLflow itself would refuse it only when the run registers its model, after the training."""
    scheme = uri.split("://")[0]
    with pytest.raises(UserInputError, match=f"MLflow has no store for the scheme '{scheme}://'; expected http"):
        check_answers(uri, timeout=1)


def test_a_database_store_must_accept_a_connection():
    # With a driver named (postgresql+psycopg2://), the scheme is still PostgreSQL's: checked by connecting.
    with pytest.raises(TrackingServerUnavailable, match="Connection refused"):
        check_answers(f"postgresql+psycopg2://mlflow@127.0.0.1:{free_port()}/mlflow", timeout=1)
    with pytest.raises(TrackingServerUnavailable, match="Connection refused"):
        check_answers(f"postgresql://mlflow@127.0.0.1:{free_port()}/mlflow", timeout=1)


def test_retry_bounds_apply_only_where_the_user_set_none(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", raising=False)
    bound_http_retries(OmegaConf.create({"http_max_retries": 2, "http_timeout": 10, "http_backoff_factor": 1}))
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "10"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"


def test_passwords_never_reach_messages_or_kept_runs():
    assert redact("https://alice:s3cret@mlflow.example.org:8443/x") == "https://alice:***@mlflow.example.org:8443/x"
    assert tracking.without_user_info("https://alice:s3cret@mlflow.example.org") == "https://mlflow.example.org"
    with pytest.raises(UserInputError, match="holds a password") as error:
        tracking.ensure_reachable(OmegaConf.create({"tracking_uri": "https://alice:s3cret@mlflow.example.org"}))
    assert "s3cret" not in str(error.value)


def test_a_kept_run_reads_back_as_it_was_logged(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["neutral", "neutral"]})
    model = DummyClassifier(strategy="most_frequent").fit(frame[["text"]], frame["label"])
    run = unsent_runs.UnsentRun(
        tracking_uri="http://127.0.0.1:5050",
        experiment="stance",
        run_name="logreg · word · C=4.0",
        tags={"model": "logreg"},
        failure="Connection refused",
        calls=[
            {"call": "log_params", "params": {"model.name": "logreg"}},
            {"call": "log_dataset", "frame": frame, "source": "x.csv", "name": "x", "context": "training"},
            {"call": "log_metrics", "metrics": {"val_macro_f1": 0.5}},
            {"call": "log_model", "model": model, "frame": frame.head(1), "target_column": None},
        ],
    )
    folder = unsent_runs.save(run, tmp_path / "unsent_runs")
    assert folder.name.endswith("logreg-word-C-4.0") and not list(folder.parent.glob(".unsent-*"))

    loaded, _ = unsent_runs.load(folder)
    assert loaded.run_name == run.run_name and loaded.failure == "Connection refused"
    assert loaded.calls[0] == {"call": "log_params", "params": {"model.name": "logreg"}}
    pd.testing.assert_frame_equal(loaded.calls[1]["frame"], frame)
    assert (folder / loaded.calls[3]["model"]).is_file()

    unsent_runs.mark_synced(folder, "abc123", run.tracking_uri)
    with pytest.raises(UserInputError, match="already uploaded as run abc123"):
        unsent_runs.load(folder)
    with pytest.raises(UserInputError, match="not a kept run"):
        unsent_runs.load(tmp_path)


def mlflow_request_error(uri: str) -> Exception:
    """The error MLflow's own HTTP client raises for a request to `uri` (no retries)."""
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    try:
        http_request(MlflowHostCreds(uri), "/api/2.0/mlflow/experiments/search", "GET", max_retries=0, timeout=3)
    except Exception as error:
        return error
    raise AssertionError(f"{uri} answered")


def test_a_store_that_does_not_answer_is_told_apart_from_a_missing_or_damaged_model(tmp_path):
    from mlflow.exceptions import MlflowException

    from pipeline.experiments.tracking_server import is_network_failure

    refused = mlflow_request_error(f"http://127.0.0.1:{free_port()}")
    assert isinstance(refused, MlflowException) and is_network_failure(refused)
    assert is_network_failure(TimeoutError("timed out"))
    for not_the_network in (
        FileNotFoundError(2, "No such file or directory", str(tmp_path / "model.skops")),
        MlflowException("Registered Model with name=x not found", error_code="RESOURCE_DOES_NOT_EXIST"),
        UserInputError("model.skops: could not be loaded as a skops model (BadZipFile: File is not a zip file)"),
    ):
        assert not is_network_failure(not_the_network), not_the_network


def test_the_same_model_is_not_registered_again_because_the_store_did_not_answer(tmp_path, monkeypatch):
    """evaluate registers an identical model afresh only when the earlier version's files are damaged or gone."""
    from pipeline import evaluate

    uri = "models:/stance-classifier/3"
    assert evaluate.loading_problem(str(tmp_path / "gone")).startswith("could not be loaded (")

    def store_down(model_uri, trust_model=False):
        raise mlflow_request_error(f"http://127.0.0.1:{free_port()}")

    monkeypatch.setattr(tracking, "load_sklearn_model", store_down)
    with pytest.raises(TrackingServerUnavailable, match="Connection refused") as error:
        evaluate.loading_problem(uri)
    assert str(error.value).startswith(f"{uri} holds the same model as this run, but its files could not be fetched")
    assert "nothing was registered" in str(error.value)
