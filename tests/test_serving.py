"""`mlflow models serve` on the champion of a freshly trained project answers like the local model and the CLI."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, reproduced_copy
from local_server import local_server, served_labels

from pipeline.inference import DEFAULT_MODEL, load_model

pytestmark = pytest.mark.slow

PING_TIMEOUT = 90
SEED = REPO / "seeds" / "000_0a13e2fcd2c43a4f.txt"
# Beside the test split: accents, a long statement, quote marks and a line break inside one statement.
EDGE_CASES = [
    "¿Por qué bombardear? Die Luftangriffe müssen aufhören, sagte er.",
    " ".join(["The coalition must stay until the militias disarm and the corridors are safe."] * 40),
    'He called the strikes "a necessary answer"\nand promised more.',
]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return reproduced_copy(tmp_path_factory.mktemp("serving") / "project")


@pytest.fixture(scope="module")
def store(project) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


@pytest.fixture(scope="module")
def statements(project) -> list[str]:
    return list(pd.read_parquet(project / "data" / "processed" / "test.parquet")["text"]) + EDGE_CASES


@pytest.fixture(scope="module")
def server(project, store):
    # `make serve`'s command: the project's checks, then `mlflow models serve` in the same process.
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    command = [sys.executable, "-m", "pipeline.serve", DEFAULT_MODEL, "--host", "127.0.0.1"]
    with local_server(lambda port: [*command, "--port", str(port)], project, env, "/ping", PING_TIMEOUT) as url:
        yield url


@pytest.fixture
def reset_mlflow_uri():
    yield
    import mlflow

    mlflow.set_tracking_uri(None)


def test_the_server_answers_like_the_local_model(server, store, statements, reset_mlflow_uri):
    import mlflow

    served = served_labels(server, statements)
    assert len(served) == len(statements)
    local = load_model(DEFAULT_MODEL, tracking_uri=store)
    assert served == list(local.tag(statements)["label"])
    assert served == list(mlflow.pyfunc.load_model(DEFAULT_MODEL).predict(pd.DataFrame({"text": statements})))


def test_stance_predict_labels_equal_the_served_labels(server, project, store, statements, tmp_path):
    table = tmp_path / "statements.csv"
    pd.DataFrame({"id": range(len(statements)), "text": statements}).to_csv(table, index=False)
    output = tmp_path / "tagged.jsonl"
    for inputs in ([str(table)], [str(SEED)]):
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.predict", *inputs, "--tracking-uri", store, "-o", str(output)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        tagged = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
        texts = [row["text"] for row in tagged]
        if inputs == [str(table)]:
            assert texts == statements
        assert [row["label"] for row in tagged] == served_labels(server, texts)


def test_a_statement_that_is_not_text_gets_the_models_own_message(server):
    """MLflow's server answers an error inside predict with a generic message and the real one in a stack trace;
    the model's input errors reach the client as they are, with HTTP 400."""
    body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [["The strikes must stop."], [None]]}})
    request = urllib.request.Request(
        f"{server}/invocations", data=body.encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=60)
    assert error.value.code == 400
    answer = json.loads(error.value.read())
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
    # MLflow's pyfunc adds the input it failed on before the model's message.
    assert "Error: expected every statement to be a string; statement 1 is missing" in answer["message"]
