"""Sweeps: one parent run per --multirun, parallel jobs as its children, and Optuna searches on validation."""

import os
import subprocess
import sys

import mlflow
import pytest
from conftest import FIXTURE_CSV, REPO, assert_one_line_error
from team_servers import running_ray_cluster

from pipeline.quiet import DATASET_SOURCE_WARNING

pytestmark = pytest.mark.slow


def run_module(module: str, *overrides: str, succeeds: bool = True, env: dict | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    if succeeds:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture
def workspace(tmp_path):
    """Prepared fixture data and a fresh SQLite store, both in a temporary folder."""
    common = [
        f"data.path={FIXTURE_CSV}",
        f"paths.processed={tmp_path / 'processed'}",
        f"paths.model={tmp_path / 'model.skops'}",
        f"paths.train_run={tmp_path / 'train_run.json'}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        "mlflow.experiment=sweep-test",
        f"hydra.run.dir={tmp_path / 'outputs'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]
    run_module("pipeline.prepare", *common)
    return tmp_path, common


def sweep_runs(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["sweep-test"])
    parents = runs[runs["tags.sweep_role"] == "parent"]
    children = runs[runs["tags.sweep_role"] != "parent"]
    return parents, children


def test_eight_parallel_jobs_land_as_children_of_one_parent(workspace):
    tmp_path, common = workspace
    result = run_module(
        "pipeline.train",
        "--multirun",
        "model=logreg,linear_svm,complement_nb,sgd",
        "features=word,char",
        "hydra.launcher.n_jobs=8",
        *common,
    )
    assert "database is locked" not in result.stderr + result.stdout
    parents, children = sweep_runs(tmp_path)
    assert len(parents) == 1 and len(children) == 8
    parent = parents.iloc[0]
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert (children["status"] == "FINISHED").all() and parent["status"] == "FINISHED"
    # Nothing lost: every child has its config, its validation scores and its model.
    assert children["metrics.val_macro_f1"].notna().all()
    assert children["params.model.name"].nunique() == 4 and children["params.features.name"].nunique() == 2
    assert parent["metrics.best_val_macro_f1"] == pytest.approx(children["metrics.val_macro_f1"].max())
    best = children.loc[children["metrics.val_macro_f1"].idxmax()]
    assert parent["tags.best_child_run_id"] == best["run_id"]
    # The parent says what the sweep varied; each child's name says what it tried.
    assert parent["params.model"] == "logreg,linear_svm,complement_nb,sgd"
    assert parent["params.features"] == "word,char"
    assert children["tags.mlflow.runName"].nunique() == 8
    # Sweep jobs keep the DVC stage outputs untouched.
    assert not (tmp_path / "model.skops").exists()


def test_optuna_search_optimises_the_validation_score_within_its_space(workspace):
    tmp_path, common = workspace
    result = run_module("pipeline.train", "hparams_search=logreg_word", "hydra.sweeper.n_trials=3", *common)
    parents, children = sweep_runs(tmp_path)
    # Quiet by default: no warning or set-up chatter a user cannot act on, no colour codes in the logs.
    output = result.stdout + result.stderr
    for noise in [DATASET_SOURCE_WARNING, "Creating initial MLflow database tables", "Joblib.Parallel(", "\x1b["]:
        assert noise not in output, noise
    # Every trial has its own name, with the values it tried; the parent lists the search space.
    assert children["tags.mlflow.runName"].nunique() == 3
    assert children["tags.mlflow.runName"].str.contains("min_df=").all()
    assert parents.iloc[0]["params.search.model.estimator.C"] == "tag(log, interval(0.05, 50.0))"
    assert len(parents) == 1 and len(children) == 3
    searched_c = children["params.model.estimator.C"].astype(float)
    assert searched_c.between(0.05, 50.0).all() and searched_c.nunique() == 3
    assert set(children["params.features.vectorizer.min_df"]) <= {"1", "2", "3"}
    assert parents.iloc[0]["metrics.best_val_macro_f1"] == pytest.approx(children["metrics.val_macro_f1"].max())
    assert "metrics.test_macro_f1" not in children or children["metrics.test_macro_f1"].isna().all()


# Two jobs; the second names a selection metric that does not exist, a user error raised before it trains.
ONE_BAD_JOB = ["--multirun", "selection_metric=macro_f1,bogus"]


def assert_reported_once_and_the_other_job_landed(result, tmp_path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sweep job #1 (selection_metric=bogus" in result.stderr
    assert "selection_metric='bogus': expected one of macro_f1, f_avg, accuracy" in result.stderr
    for noise in ["Traceback", "WorkerCrashedError", "will be retried"]:
        assert noise not in output, output[-3000:]
    parents, children = sweep_runs(tmp_path)
    assert list(children["status"]) == ["FINISHED"] and list(children["params.selection_metric"]) == ["macro_f1"]
    # The sweep failed, so its parent run is closed FAILED (not left RUNNING), with the finished job as its best.
    assert list(parents["status"]) == ["FAILED"]
    assert list(parents["tags.best_child_run_id"]) == list(children["run_id"])


def test_a_user_error_in_one_job_is_reported_and_the_other_jobs_land(workspace):
    tmp_path, common = workspace
    result = run_module("pipeline.train", *ONE_BAD_JOB, *common, succeeds=False)
    assert_reported_once_and_the_other_job_landed(result, tmp_path)


def test_on_ray_a_user_error_is_reported_once_not_retried_as_a_crash(workspace):
    tmp_path, common = workspace
    with running_ray_cluster(dict(os.environ)) as address:
        result = run_module(
            "pipeline.train", *ONE_BAD_JOB, "hydra/launcher=ray_cluster", *common,
            succeeds=False, env={"RAY_ADDRESS": address},
        )  # fmt: skip
    assert "Ray Launcher is launching 2 jobs" in result.stdout + result.stderr
    assert_reported_once_and_the_other_job_landed(result, tmp_path)


def test_a_user_error_before_the_jobs_stops_the_sweep_with_one_line(workspace):
    tmp_path, common = workspace
    other_data = tmp_path / "other.csv"
    other_data.write_bytes(FIXTURE_CSV.read_bytes())
    # The sweep names a data file other than the prepared one's: the parent run's set-up refuses it.
    result = run_module(
        "pipeline.train", "--multirun", "model=logreg,sgd", *common, f"data.path={other_data}", succeeds=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "error: " in result.stderr and "prepare it first with the same overrides" in result.stderr
    for noise in ["UserWarning", "Launching jobs", "Traceback"]:
        assert noise not in output, output[-3000:]


def test_an_option_conf_does_not_have_stops_the_sweep_in_one_line_and_leaves_no_empty_run(workspace):
    tmp_path, common = workspace
    result = run_module("pipeline.train", "--multirun", "model=logreg,linear_svn", *common, succeeds=False)
    assert_one_line_error(
        result.returncode, result.stderr, "Could not find 'model/linear_svn'", "available options in 'model'"
    )
    # The parent run was opened before Hydra composed the jobs; with no job run, it is not left behind FAILED.
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert mlflow.search_runs(experiment_names=["sweep-test"]).empty
    deleted = mlflow.search_runs(experiment_names=["sweep-test"], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert list(deleted["tags.sweep_role"]) == ["parent"]
    assert list(deleted["status"]) == ["FAILED"]  # closed, not shown as running for ever among the deleted runs


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_ray_address_with_no_cluster_behind_it_is_refused_before_any_job(scheme):
    """Ray's own client would retry and warn for ever; the sweep stops at once, naming the address."""
    from local_server import free_port

    from pipeline.errors import UserInputError
    from pipeline.experiments.sweep import check_ray_cluster

    address = f"{scheme}127.0.0.1:{free_port()}"
    with pytest.raises(UserInputError, match=rf"Ray cluster at {address} \(RAY_ADDRESS\) did not accept a connection"):
        check_ray_cluster(address, timeout=1)
    check_ray_cluster(None)  # no address: Ray starts a local instance itself
    check_ray_cluster("auto")


def test_a_listening_ray_head_passes_the_check():
    import socket

    from pipeline.experiments.sweep import check_ray_cluster

    with socket.create_server(("127.0.0.1", 0)) as head:
        check_ray_cluster(f"127.0.0.1:{head.getsockname()[1]}", timeout=1)


def test_ctrl_c_stops_a_sweep_with_one_line_and_closes_its_parent_run(workspace):
    """Ctrl-C signals the terminal's whole process group: the sweep's process and its joblib workers."""
    import signal
    import time

    tmp_path, common = workspace
    sweep = subprocess.Popen(
        [sys.executable, "-m", "pipeline.train", "--multirun", "model=logreg,sgd,linear_svm", "features=word,char",
         *common],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not any((tmp_path / "multirun").rglob("*.log")):  # a job has started
            assert sweep.poll() is None and time.monotonic() < deadline, "the sweep ended before a job started"
            time.sleep(0.2)
        os.killpg(sweep.pid, signal.SIGINT)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
    assert sweep.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr, stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["sweep-test"], run_view_type=mlflow.entities.ViewType.ALL)
    parents = runs[runs["tags.sweep_role"] == "parent"]
    assert len(parents) == 1 and parents["status"].iloc[0] == "FAILED"
