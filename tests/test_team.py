"""The team set-up on real servers: MLflow on PostgreSQL with S3 artifacts behind basic auth, a DVC remote on the
same S3, and a sweep on a local Ray cluster logging nested runs into the team server."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest
from conftest import FIXTURE_CSV, LEFT_BEHIND, REPO, assert_one_line_error
from omegaconf import OmegaConf
from team_servers import running_ray_cluster, running_team_stack, team_environment

from pipeline import team_stack

pytestmark = pytest.mark.slow

EXPERIMENT = "team-test"


@pytest.fixture(scope="module")
def stack():
    with running_team_stack() as running:
        yield running


@pytest.fixture(scope="module")
def secrets(stack) -> list[str]:
    """Every credential of the stack: none may appear in what a run logs or prints."""
    environment = team_stack.client_environment(stack)
    team_dir = Path(stack.team_dir)
    return [
        environment["MLFLOW_TRACKING_PASSWORD"],
        environment["AWS_ACCESS_KEY_ID"],
        environment["AWS_SECRET_ACCESS_KEY"],
        team_stack.secret(team_dir, "postgres-password"),
        team_stack.secret(team_dir, "mlflow-flask-secret"),
    ]


@pytest.fixture(scope="module")
def team_project(stack, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the project reproduced as `make run MLFLOW_PROFILE=team` does; the stages' output."""
    project = tmp_path_factory.mktemp("team") / "project"
    shutil.copytree(REPO, project, ignore=LEFT_BEHIND)
    environment = team_environment(stack)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "copy"]):
        run(command, environment, project)
    composed = run([sys.executable, "-m", "pipeline.compose_params", "mlflow=team"], environment, project)
    reproduced = run([str(Path(sys.executable).parent / "dvc"), "repro"], environment, project)
    return project, composed.stdout + composed.stderr + reproduced.stdout + reproduced.stderr


def run(command: list[str], env: dict, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**env, "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def team_client(stack):
    """An MLflow client of the team server, authenticated from the environment like the pipeline."""
    environment = team_stack.client_environment(stack)
    os.environ["MLFLOW_TRACKING_USERNAME"] = environment["MLFLOW_TRACKING_USERNAME"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = environment["MLFLOW_TRACKING_PASSWORD"]
    return mlflow.MlflowClient(tracking_uri=stack.tracking_uri)


@pytest.fixture
def authenticated(stack):
    yield team_client(stack)
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(variable, None)


def stage_overrides(tmp_path: Path) -> list[str]:
    return [
        "mlflow=team",
        f"mlflow.experiment={EXPERIMENT}",
        f"data.path={FIXTURE_CSV}",
        f"paths.processed={tmp_path / 'processed'}",
        f"paths.model={tmp_path / 'model.skops'}",
        f"paths.train_run={tmp_path / 'train_run.json'}",
        f"paths.reports={tmp_path / 'reports'}",
        f"paths.unsent_runs={tmp_path / 'unsent_runs'}",
        f"hydra.run.dir={tmp_path / 'outputs'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]


def test_the_server_refuses_a_client_without_credentials(stack, tmp_path):
    search = stack.tracking_uri + "/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(search, timeout=10)
    assert refused.value.code == 401
    wrong = urllib.request.Request(search, headers={"Authorization": "Basic " + base64.b64encode(b"admin:x").decode()})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=10)
    assert refused.value.code == 401

    # The pipeline stops before training, with one line that says what to set.
    environment = {k: v for k, v in team_environment(stack).items() if k != "MLFLOW_TRACKING_PASSWORD"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.train", *stage_overrides(tmp_path)],
        cwd=REPO, env={**environment, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: MLflow tracking server {stack.tracking_uri} refused no credentials (HTTP 401): "
        "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment"
    ]

    # Loading a model with a wrong password says the same, not MLflow's "error code 401 != 200. Response body...".
    wrong_password = {**team_environment(stack), "MLFLOW_TRACKING_PASSWORD": "wrong", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "pipeline.predict", "--lines", "--model", "models:/stance-classifier@champion"]
    tagged = subprocess.run(
        [*command, "--tracking-uri", stack.tracking_uri], input="The strikes must stop.\n",
        cwd=tmp_path, env=wrong_password, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert_one_line_error(
        tagged.returncode, tagged.stderr, f"MLflow tracking server {stack.tracking_uri} refused user ", "(HTTP 401)",
        "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
    )  # fmt: skip


def test_a_full_run_lands_in_postgres_and_s3_and_logs_no_credential(
    stack, secrets, authenticated, team_project, tmp_path
):
    project, output = team_project
    assert "tracking_uri: " + stack.tracking_uri in (project / "params.yaml").read_text()

    params = OmegaConf.load(project / "params.yaml")
    experiment = authenticated.get_experiment_by_name(params.mlflow.experiment)
    [run_info] = authenticated.search_runs([experiment.experiment_id])
    run_id = run_info.info.run_id
    assert run_info.data.metrics["test_macro_f1"] >= 0 and run_info.data.params["model.name"] == "logreg"
    assert authenticated.get_model_version_by_alias(params.mlflow.registered_model, "champion").run_id == run_id

    # The run is a row of the PostgreSQL store, its artifacts are objects in the S3 bucket.
    import psycopg

    password = team_stack.secret(Path(stack.team_dir), "postgres-password")
    with psycopg.connect(
        host="127.0.0.1", port=stack.ports.postgres, user="mlflow", password=password, dbname="mlflow"
    ) as connection:
        assert connection.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchone() == ("FINISHED",)
    s3 = team_stack.s3_client(stack)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=team_stack.BUCKET).get("Contents", [])]
    assert any(run_id in key and key.endswith("config.yaml") for key in keys)
    assert any(key.endswith("/MLmodel") for key in keys)

    # No credential in params, tags, artifacts (every file of the run and of its model) or the stages' output.
    logged = [*run_info.data.params.values(), *run_info.data.tags.values(), output]
    downloads = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "artifacts"),
                                                         tracking_uri=stack.tracking_uri))  # fmt: skip
    model = authenticated.get_logged_model(run_info.outputs.model_outputs[0].model_id)
    model_files = Path(mlflow.artifacts.download_artifacts(model.artifact_location, dst_path=str(tmp_path / "model"),
                                                           tracking_uri=stack.tracking_uri))  # fmt: skip
    files = [path for folder in (downloads, model_files) for path in folder.rglob("*") if path.is_file()]
    assert any(path.name == "MLmodel" for path in files) and any(path.name == "config.yaml" for path in files)
    logged += [path.read_bytes().decode("utf-8", errors="replace") for path in files]
    for text in logged:
        for secret in secrets:
            assert secret not in text


def test_dvc_push_and_pull_round_trip_the_pipeline_outputs_through_s3(stack, team_project):
    project, _ = team_project
    environment = team_stack.client_environment(stack)
    dvc = [str(Path(sys.executable).parent / "dvc")]
    run([*dvc, "remote", "add", "-d", "team", f"s3://{team_stack.DVC_BUCKET}/stance"], os.environ, project)
    run([*dvc, "remote", "modify", "team", "endpointurl", stack.s3_endpoint], os.environ, project)
    # Keys in .dvc/config.local (git-ignored), never in the committed .dvc/config.
    run([*dvc, "remote", "modify", "--local", "team", "access_key_id", environment["AWS_ACCESS_KEY_ID"]],
        os.environ, project)  # fmt: skip
    run([*dvc, "remote", "modify", "--local", "team", "secret_access_key", environment["AWS_SECRET_ACCESS_KEY"]],
        os.environ, project)  # fmt: skip
    assert environment["AWS_SECRET_ACCESS_KEY"] not in (project / ".dvc" / "config").read_text()
    assert ".dvc/config.local" not in run(["git", "status", "--porcelain"], os.environ, project).stdout

    outputs = [
        "data/processed/train.parquet",
        "data/processed/test.parquet",
        "data/processed/validation.parquet",
        "models/classifier.skops",
    ]
    digests = {name: hashlib.md5((project / name).read_bytes()).hexdigest() for name in outputs}
    pushed = run([*dvc, "push"], os.environ, project)
    assert "pushed" in pushed.stdout
    s3 = team_stack.s3_client(stack)
    assert s3.list_objects_v2(Bucket=team_stack.DVC_BUCKET, Prefix="stance/").get("KeyCount", 0) >= len(outputs)

    # A fresh clone's view: no cache, no outputs; `dvc pull` brings back the same bytes.
    shutil.rmtree(project / ".dvc" / "cache")
    for name in outputs:
        (project / name).unlink()
    run([*dvc, "pull"], os.environ, project)
    assert {name: hashlib.md5((project / name).read_bytes()).hexdigest() for name in outputs} == digests
    assert "up to date" in run([*dvc, "status"], os.environ, project).stdout


def test_a_four_job_sweep_on_ray_nests_its_runs_in_the_team_server(stack, authenticated, team_project, tmp_path):
    project, _ = team_project
    environment = team_environment(stack)
    with running_ray_cluster(environment) as address:
        result = run(
            [sys.executable, "-m", "pipeline.train", "--multirun", "hydra/launcher=ray_cluster",
             "model=logreg,linear_svm", "features=word,char",
             "mlflow=team", "mlflow.experiment=team-ray-sweep", f"paths.processed={project / 'data' / 'processed'}",
             f"hydra.sweep.dir={tmp_path / 'multirun'}"],
            {**environment, "RAY_ADDRESS": address},
        )  # fmt: skip
    assert "Ray Launcher is launching 4 jobs" in result.stdout + result.stderr

    experiment = authenticated.get_experiment_by_name("team-ray-sweep")
    runs = authenticated.search_runs([experiment.experiment_id])
    described = [(each.info.run_name, each.data.tags.get("sweep_role"), each.info.status) for each in runs]
    [parent] = [each for each in runs if each.data.tags.get("sweep_role") == "parent"] or [described]
    children = [each for each in runs if each.data.tags.get("sweep_role") != "parent"]
    assert len(children) == 4, described
    assert {child.data.tags["mlflow.parentRunId"] for child in children} == {parent.info.run_id}
    assert {(c.data.params["model.name"], c.data.params["features.name"]) for c in children} == {
        ("logreg", "word"), ("logreg", "char"), ("linear_svm", "word"), ("linear_svm", "char"),
    }  # fmt: skip
    assert all(child.info.status == "FINISHED" for child in children)
    assert parent.info.status == "FINISHED"
    best = max(child.data.metrics["val_macro_f1"] for child in children)
    assert parent.data.metrics["best_val_macro_f1"] == pytest.approx(best)
