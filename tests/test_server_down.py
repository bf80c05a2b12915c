"""A tracking server that is down or dies mid-run: one line within seconds, exit code 2, and nothing lost."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import skops.io
from conftest import FIXTURE_CSV, REPO
from local_server import free_port, local_server, started_server

from pipeline.features.text_input import SKOPS_TRUSTED_TYPES

pytestmark = pytest.mark.slow

# The bound for every server-down case, from the failure to the process's exit.
FAILURE_BOUND_SECONDS = 15
SERVER_START_TIMEOUT = 180


def environment() -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        env.pop(variable, None)
    return env


def stage_overrides(tmp_path: Path, tracking_uri: str) -> list[str]:
    return [
        f"data.path={FIXTURE_CSV}",
        "data.extra_eval=[]",  # the stages run in tmp_path, where data/seed_quotes.csv is not
        f"paths.processed={tmp_path / 'processed'}",
        f"paths.model={tmp_path / 'model.skops'}",
        f"paths.train_run={tmp_path / 'train_run.json'}",
        f"paths.unsent_runs={tmp_path / 'unsent_runs'}",
        f"mlflow.tracking_uri={tracking_uri}",
        "mlflow.experiment=server-down",
        f"hydra.run.dir={tmp_path / 'outputs'}",
    ]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=300)


def mlflow_server(store: str):
    executable = str(Path(sys.executable).parent / "mlflow")

    def command(port: int) -> list[str]:
        return [
            executable,
            "server",
            "--backend-store-uri",
            store,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]

    return command


@pytest.fixture
def prepared(tmp_path):
    result = run(
        [sys.executable, "-m", "pipeline.prepare", *stage_overrides(tmp_path, "sqlite:///unused.db")], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_training_stops_within_seconds_naming_the_server_when_none_answers(prepared):
    uri = f"http://127.0.0.1:{free_port()}"
    train = [sys.executable, "-m", "pipeline.train", *stage_overrides(prepared, uri)]
    # What starting the stage costs on this machine (imports, config), so that a busy machine does not fail the test.
    started = time.monotonic()
    assert run([*train, "--cfg", "job"], prepared).returncode == 0
    start_up = time.monotonic() - started
    started = time.monotonic()
    result = run(train, prepared)
    elapsed = time.monotonic() - started

    assert result.returncode == 2, result.stderr[-3000:]
    assert elapsed - start_up < FAILURE_BOUND_SECONDS, (elapsed, start_up)
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert f"MLflow tracking server {uri} did not answer: Connection refused" in line
    # It stopped before training: nothing was written.
    assert not (prepared / "model.skops").exists() and not (prepared / "unsent_runs").exists()


# Train through the real CLI, but kill the tracking server (its whole process group) right after the fit.
KILL_AFTER_FIT = """
import os, signal, socket, sys, time
from pathlib import Path
import pipeline.train as train

fit = train.fit_classifier

def fit_then_kill_server(*args):
    classifier = fit(*args)
    os.killpg(int(os.environ["SERVER_PGID"]), signal.SIGKILL)
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(os.environ["SERVER_PORT"])), timeout=1).close()
            time.sleep(0.1)
        except OSError:
            break
    Path(os.environ["KILLED_AT"]).write_text(str(time.time()))
    return classifier

train.fit_classifier = fit_then_kill_server
sys.argv[0] = "pipeline/train.py"
train.main()
"""


def test_a_server_killed_after_the_fit_loses_nothing_and_sync_uploads_the_run(prepared):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    store = f"sqlite:///{prepared / 'server.db'}"
    killed_at = prepared / "killed_at"
    with started_server(mlflow_server(store), prepared, environment(), "/health", SERVER_START_TIMEOUT, port) as (
        _,
        server,
    ):
        env = {**environment(), "SERVER_PGID": str(server.pid), "SERVER_PORT": str(port), "KILLED_AT": str(killed_at)}
        result = subprocess.run(
            # Run from `-c`, Hydra needs the config folder named explicitly.
            [
                sys.executable,
                "-c",
                KILL_AFTER_FIT,
                "--config-path",
                str(REPO / "conf"),
                *stage_overrides(prepared, uri),
            ],
            cwd=prepared,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        ended_at = time.time()

    assert result.returncode == 2, result.stderr[-3000:]
    assert ended_at - float(killed_at.read_text()) < FAILURE_BOUND_SECONDS
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert f"MLflow tracking server {uri} failed while logging" in line
    folder = Path(line.rsplit("python -m pipeline.sync ", 1)[1])
    assert folder.parent == prepared / "unsent_runs"

    # Kept on disk: the fitted model, every param and the validation metrics.
    record = json.loads((folder / "run.json").read_text())
    calls = {call["call"]: call for call in record["calls"]}
    params = {k: v for call in record["calls"] if call["call"] == "log_params" for k, v in call["params"].items()}
    assert params["model.name"] == "logreg" and params["data.path"] == str(FIXTURE_CSV)
    assert 0.0 <= calls["log_metrics"]["metrics"]["val_macro_f1"] <= 1.0
    kept_model = skops.io.load(folder / calls["log_model"]["model"], trusted=SKOPS_TRUSTED_TYPES)

    # Back up on the same address and store: the printed command uploads the run as it would have been logged.
    with local_server(mlflow_server(store), prepared, environment(), "/health", SERVER_START_TIMEOUT, port=port):
        synced = run([sys.executable, "-m", "pipeline.sync", str(folder)], prepared)
        assert synced.returncode == 0, synced.stderr[-3000:]
        again = run([sys.executable, "-m", "pipeline.sync", str(folder)], prepared)
        mlflow.set_tracking_uri(uri)
        try:
            runs = mlflow.search_runs(experiment_names=["server-down"])
            uploaded = runs[runs["tags.uploaded_from"] == folder.name].iloc[0]
            [model_output] = mlflow.MlflowClient().get_run(uploaded["run_id"]).outputs.model_outputs
            model = mlflow.sklearn.load_model(f"models:/{model_output.model_id}")
            model_metrics = {metric.key for metric in mlflow.get_logged_model(model_output.model_id).metrics}
            partial = runs[runs["run_id"] == record["partial_run_id"]]
        finally:
            mlflow.set_tracking_uri(None)

    assert again.returncode == 2 and "already uploaded" in again.stderr
    assert uploaded["params.model.name"] == "logreg" and uploaded["status"] == "FINISHED"
    assert uploaded["metrics.val_macro_f1"] == pytest.approx(calls["log_metrics"]["metrics"]["val_macro_f1"])
    assert "val_macro_f1" in model_metrics
    # Its Duration is the training's: it started when the stage began (before the fit, before the server died) and
    # ended when the run was kept, not when it was uploaded.
    started, ended = uploaded["start_time"].timestamp(), uploaded["end_time"].timestamp()
    assert started == pytest.approx(record["started_at"], abs=0.002)
    assert ended == pytest.approx(record["ended_at"], abs=0.002)
    assert started < float(killed_at.read_text()) < ended <= ended_at
    # Named as it would have been (numbered, as the UI tells runs apart, beside the half-logged run of that name).
    assert uploaded["tags.mlflow.runName"].startswith(record["run_name"])
    validation = pd.read_parquet(prepared / "processed" / "validation.parquet")
    assert list(model.predict(validation)) == list(kept_model.predict(validation))
    # The half-logged run the server had started before it died is marked failed, not left running.
    if len(partial):
        assert partial.iloc[0]["status"] == "FAILED"
