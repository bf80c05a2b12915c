"""`dvc repro` in a temporary copy of the repository, checked through MLflow and the model registry."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, assert_one_line_error, attempt, reproduced_copy, run

pytestmark = pytest.mark.slow
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh copy of the repository, committed, with the pipeline reproduced once."""
    return reproduced_copy(tmp_path_factory.mktemp("e2e") / "project")


@pytest.fixture(scope="module")
def client(project):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def first_run(client):
    experiment = client.get_experiment_by_name("stance-intervention-statements")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return runs[0]


MODEL_FILE = "models/classifier.skops"


def changed_tracked_files(project: Path) -> str:
    """`git status` of the tracked files, leaving out a dvc.lock whose only change is the model file's md5.

    The model's coefficients are computed with OpenBLAS, whose kernels (chosen for the CPU, or by
    OPENBLAS_CORETYPE) can round the last bit differently: the same predictions and reports, another md5 on another
    machine. Everything else in dvc.lock, the code's hashes and every report's, must be as committed.
    """
    status = run(["git", "status", "--porcelain", "--untracked-files=no"], project).stdout
    lines = [line for line in status.splitlines() if line.split()[-1] != "dvc.lock" or not lock_same_but_model(project)]
    return "".join(f"{line}\n" for line in lines)


def lock_same_but_model(project: Path) -> bool:
    def without_model_md5(lock: dict) -> dict:
        for stage in lock["stages"].values():
            for entry in stage.get("deps", []) + stage.get("outs", []):
                if entry["path"] == MODEL_FILE:
                    entry.pop("md5")
        return lock

    committed = yaml.safe_load(run(["git", "show", "HEAD:dvc.lock"], project).stdout)
    reproduced = yaml.safe_load((project / "dvc.lock").read_text())
    return without_model_md5(committed) == without_model_md5(reproduced)


def test_a_fresh_copy_reproduces_the_committed_lock_and_reports(project):
    """What `make run` does on a fresh clone: the same data, config and seed give the same dvc.lock and reports,
    and the train stage's MLflow run is the one evaluated and registered (DVC alone would skip evaluate)."""
    train_run = json.loads((project / "models" / "train_run.json").read_text())
    registered = json.loads((project / "reports" / "registered_model.json").read_text())
    assert registered["run_id"] == train_run["run_id"]
    changed = changed_tracked_files(project)
    assert changed == "", (
        f"reproducing the pipeline changed tracked files:\n{changed}{run(['git', 'diff', '--stat'], project).stdout}"
        "If the change is intended (new code or config), run `make run` and commit dvc.lock, params.yaml and reports/."
    )


def test_stage_outputs_exist(project):
    for path in [
        "data/processed/train.parquet",
        "data/processed/test.parquet",
        "models/classifier.skops",
        "reports/metrics.json",
        "reports/confusion_matrix.png",
        "reports/test_predictions.csv",
    ]:
        assert (project / path).is_file(), path
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["test"]["macro_f1"] > metrics["baseline"]["macro_f1"]


def test_the_mlflow_run_holds_config_metrics_tags_inputs_and_artifacts(client):
    run = first_run(client)
    assert run.info.run_name.startswith("logreg · word_char")
    assert run.data.params["model.name"] == "logreg"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on the training view
    assert "labelled" in experiment.tags["mlflow.note.content"]
    assert run.data.params["features.name"] == "word_char"
    for metric in [
        "val_macro_f1",
        "test_macro_f1",
        "test_f_avg",
        "test_accuracy",
        "baseline_macro_f1",
        "test_f1/neutral",
    ]:
        assert metric in run.data.metrics, metric
    assert len(run.data.tags["data_md5"]) == 32
    assert run.data.tags["git_commit"] != "unknown"
    contexts = {tag.value for dataset in run.inputs.dataset_inputs for tag in dataset.tags}
    assert {"training", "validation"} <= contexts
    assert all(dataset.dataset.digest for dataset in run.inputs.dataset_inputs)
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {
        "config.yaml",
        "confusion_matrix.png",
        "confusion_matrix_normalized.png",
        "classification_report.txt",
        "misclassified_test_statements.json",
        "top_features.json",
    } <= artifacts


def test_the_registered_model_is_refitted_on_all_labels_beside_the_scored_one(project, client):
    import mlflow
    import skops.io

    from pipeline.features.text_input import SKOPS_TRUSTED_TYPES

    version = client.get_model_version("stance-classifier", "1")
    run = first_run(client)
    assert version.run_id == run.info.run_id
    # The registry explains itself: what the version is, on what data, how it scored, why it is champion.
    assert run.info.run_name in version.description
    assert "Data: intervention-statements (md5 " in version.description
    # The counts are the prepared splits', not the data set's prose description.
    sizes = {split: len(pd.read_parquet(project / f"data/processed/{split}.parquet")) for split in SPLITS}
    counts = " · ".join(f"{count:,} {split}" for split, count in sizes.items())
    assert f"), {sum(sizes.values()):,} statements: {counts}  \n" in version.description
    assert "Test: macro-F1 0." in version.description and "promoted (no champion yet)" in version.description
    assert version.tags["selection_metric"] == "macro_f1"
    assert version.tags["champion_decision"] == "promoted"
    assert version.tags["git_commit"] == run.data.tags["git_commit"]
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.name.startswith("logreg · word_char · C=4")
    assert str(client.get_model_version_by_alias("stance-classifier", "champion").version) == "1"
    assert run.data.tags["champion_decision"] == "promoted"
    # The version served is the refit; the model the test split scored is named beside it, with its scores.
    assert version.tags["refit"] == "all_labels" and version.tags["trained_on"] == "train+validation+test"
    assert version.tags["trained_statements"] == "1590"
    assert float(version.tags["held_out_test_macro_f1"]) == pytest.approx(run.data.metrics["test_macro_f1"], abs=1e-6)
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    test = pd.read_parquet(project / "data/processed/test.parquet")
    local = skops.io.load(project / "models/classifier.skops", trusted=SKOPS_TRUSTED_TYPES)
    held_out = mlflow.pyfunc.load_model(version.tags["held_out_model_uri"])
    np.testing.assert_array_equal(np.asarray(held_out.predict(test[["id", "text"]])), local.predict(test))

    loaded = mlflow.pyfunc.load_model("models:/stance-classifier/1")
    predictions = loaded.predict(test[["id", "text"]])
    assert len(predictions) == len(test)
    as_sklearn = mlflow.sklearn.load_model("models:/stance-classifier/1")
    np.testing.assert_array_equal(as_sklearn.predict(list(test["text"])), np.asarray(predictions))
    probabilities = loaded.get_raw_model().predict_proba(test[["text"]])
    assert probabilities.shape == (len(test), 3)
    # Fitted on the test split too, it gets (nearly) all of it right: it must never be scored on it.
    assert (np.asarray(predictions) == test["label"].to_numpy()).mean() > 0.95


def test_every_evaluation_scores_the_seed_quotes_for_both_fits(project, client):
    metrics = first_run(client).data.metrics
    for prefix in ("", "all_labels_"):
        assert metrics[f"{prefix}seed_quotes_total"] == 6
        assert 0 <= metrics[f"{prefix}seed_quotes_correct"] <= 6
        assert metrics[f"{prefix}seed_quotes_accuracy"] == metrics[f"{prefix}seed_quotes_correct"] / 6
    artifacts = {artifact.path for artifact in client.list_artifacts(first_run(client).info.run_id, "real_text")}
    assert "real_text/seed_quotes_predictions.json" in artifacts


def test_each_logged_model_lists_its_own_scores_and_not_the_other_fits(client):
    """MLflow links a run's metrics to its models by step: the refit must not show the held-out fit's test scores
    (it was fitted on the test split), nor the held-out fit the refit's real-text scores."""
    version = client.get_model_version("stance-classifier", "1")
    refit = client.get_logged_model(version.source.removeprefix("models:/"))
    held_out = client.get_logged_model(version.tags["held_out_model_uri"].removeprefix("models:/"))
    refit_keys = {metric.key for metric in refit.metrics}
    held_out_keys = {metric.key for metric in held_out.metrics}
    assert refit_keys == {f"all_labels_seed_quotes_{name}" for name in ("accuracy", "correct", "macro_f1", "total")}
    assert {"val_macro_f1", "test_macro_f1", "seed_quotes_correct"} <= held_out_keys
    assert not any(key.startswith("all_labels_") for key in held_out_keys)
    run_metrics = first_run(client).data.metrics
    assert {metric.key: metric.value for metric in refit.metrics} == {key: run_metrics[key] for key in refit_keys}


def test_dvc_reports_the_metrics_and_renders_the_plots(project):
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    assert "macro_f1" in json.dumps(metrics)
    plots = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)["data"]
    assert {"reports/test_predictions.csv", "reports/confusion_matrix.png"} <= set(plots)
    confusion = plots["reports/test_predictions.csv"][0]
    assert confusion["type"] == "vega"
    rows = confusion["content"]["data"]["values"]
    assert len(rows) == len(pd.read_parquet(project / "data/processed/test.parquet"))
    assert {"label", "predicted"} <= set(rows[0])


def test_a_second_repro_does_nothing(project):
    output = run(["dvc", "repro"], project).stdout
    assert "Running stage" not in output
    assert "Data and pipelines are up to date" in output


def test_rerunning_from_scratch_gives_the_same_split_metrics_and_predictions(project, client):
    outputs = ["data/processed/test.parquet", "reports/metrics.json", "reports/test_predictions.csv", MODEL_FILE]
    before = {path: (project / path).read_bytes() for path in outputs}
    versions = client.search_model_versions("name = 'stance-classifier'")
    run(["dvc", "repro", "--force"], project)
    for path in outputs:
        assert (project / path).read_bytes() == before[path], path
    # On one machine the retrained model has the same bytes (checked above), and dvc.lock is as committed.
    assert changed_tracked_files(project) == ""
    # Nor does the registry: the run is logged, but the same model is not registered a second time.
    assert len(client.search_model_versions("name = 'stance-classifier'")) == len(versions) == 1
    rerun = client.search_runs([first_run(client).info.experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert rerun.info.run_id != first_run(client).info.run_id
    assert rerun.data.tags["same_model_as"] == "models:/stance-classifier/1"
    assert rerun.data.tags["champion_reason"] == "it is the champion already (version 1)"
    registered = json.loads((project / "reports/registered_model.json").read_text())
    assert registered["uri"] == "models:/stance-classifier/1" and registered["run_id"] == rerun.info.run_id
    assert registered["registered_before_by"] == first_run(client).info.run_id and registered["holds_champion"]
    summary = run([sys.executable, "-m", "pipeline.summary"], project).stdout
    assert f"registered before by MLflow run {first_run(client).info.run_id}" in summary
    assert "this model kept as champion: it is the champion already (version 1)" in summary
    assert "give it the alias yourself" not in summary


def test_a_model_parameter_change_reruns_only_train_and_evaluate(project):
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["model"]["estimator"]["C"] = 0.25
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(["dvc", "repro"], project).stdout
    assert "Running stage 'train'" in output and "Running stage 'evaluate'" in output
    assert "Running stage 'prepare'" not in output


def test_the_gate_scores_a_refitted_champion_by_its_held_out_twin(project, client):
    """The champion (a refit) has seen the test split; the gate scores its held-out twin, as it scores a candidate."""
    experiment = client.get_experiment_by_name("stance-intervention-statements")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    changed = [run for run in runs if run.data.params.get("model.estimator.C") == "0.25"]
    assert changed, "needs the evaluation of the parameter-change test"
    first, latest = runs[0], changed[-1]
    gate = latest.data.metrics
    # Re-scoring the refit itself would give about 0.98: it was fitted on this test split.
    assert gate["vs_champion_champion_macro_f1"] == pytest.approx(first.data.metrics["test_macro_f1"])
    assert gate["vs_champion_candidate_macro_f1"] == pytest.approx(latest.data.metrics["test_macro_f1"])


def test_the_evaluate_stage_run_again_keeps_to_its_own_runs_version(project, client):
    """After the parameter-change test: evaluate alone again (as after a champion.* change, or an evaluate stopped
    before it described its version) finds the version its own run registered; nothing is registered twice and the
    run is not tagged as the same model as itself."""
    versions = len(client.search_model_versions("name = 'stance-classifier'"))
    before = json.loads((project / "reports/registered_model.json").read_text())
    run([sys.executable, "-m", "pipeline.evaluate", "--config-dir", ".", "--config-name", "params"], project)
    after = json.loads((project / "reports/registered_model.json").read_text())
    assert after["uri"] == before["uri"] and after["run_id"] == before["run_id"]
    assert after["registered_before_by"] is None
    assert "same_model_as" not in client.get_run(after["run_id"]).data.tags
    assert len(client.search_model_versions("name = 'stance-classifier'")) == versions


def test_an_evaluate_interrupted_while_registering_leaves_the_reports_as_they_were(project):
    """Ctrl-C (here: raised as the stage opens the MLflow run it registers the model in) must not leave this run's
    scores in reports/ beside the registration record of an earlier run."""
    reports = [project / "reports" / name for name in ("metrics.json", "test_predictions.csv", "registered_model.json")]
    before = {path: path.stat().st_mtime_ns for path in reports}
    interrupt_while_registering = (
        "import runpy, sys\n"
        "from pipeline import tracking\n"
        "def interrupt(*args, **kwargs):\n"
        "    raise KeyboardInterrupt\n"
        "tracking.resumed_run = interrupt\n"
        "sys.argv = ['evaluate', '--config-dir', '.', '--config-name', 'params']\n"
        "runpy.run_module('pipeline.evaluate', run_name='__main__', alter_sys=True)\n"
    )
    result = attempt([sys.executable, "-c", interrupt_while_registering], project)
    assert result.returncode == 130 and result.stderr.strip().endswith("interrupted"), result.stderr[-2000:]
    assert {path: path.stat().st_mtime_ns for path in reports} == before


def test_evaluate_alone_refuses_settings_other_than_the_models(project, client):
    """After the parameter-change test (params.yaml: C=0.25): `python -m pipeline.evaluate` without the stage's
    config composes conf/ (C=4). It would score the C=0.25 model, then refit and register a C=4 one under that run's
    name; it stops first, and changes no report and no registry entry."""
    versions = len(client.search_model_versions("name = 'stance-classifier'"))
    reports = {path: path.read_bytes() for path in (project / "reports").iterdir() if path.is_file()}
    result = attempt([sys.executable, "-m", "pipeline.evaluate"], project)
    assert_one_line_error(
        result.returncode,
        result.stderr,
        "models/classifier.skops was trained (MLflow run ",
        "model.estimator.C=0.25 (trained) against 4.0 (here)",
        "python -m pipeline.evaluate --config-dir . --config-name params",
    )
    assert {path: path.read_bytes() for path in reports} == reports
    assert len(client.search_model_versions("name = 'stance-classifier'")) == versions


def test_dvc_experiments_compose_hydra_overrides_and_name_their_mlflow_run(project, client):
    run(["dvc", "exp", "run", "-S", "model=linear_svm", "--name", "svm"], project)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    experiments = [exp for commit in shown for exp in (commit.get("experiments") or [])]
    svm = [exp for exp in experiments if exp.get("name") == "svm"]
    assert svm, shown
    revision = svm[0]["revs"][0]["data"]
    assert revision["params"]["params.yaml"]["data"]["model"]["name"] == "linear_svm"
    assert "test" in revision["metrics"]["reports/metrics.json"]["data"]
    # Both ways: the experiment records its MLflow run, the run names the experiment and its baseline commit.
    run_id = revision["metrics"]["reports/mlflow_run.json"]["data"]["mlflow_run_id"]
    mlflow_run = client.get_run(run_id)
    assert mlflow_run.data.tags["dvc_experiment"] == "svm"
    baseline = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    assert mlflow_run.data.tags["dvc_baseline_rev"] == baseline
    assert mlflow_run.info.run_name.endswith("· dvc exp svm")
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    assert versions and versions[0].tags["dvc_experiment"] == "svm"


def test_the_readmes_dvc_exp_show_lines_fit_a_terminal(project):
    """Piped, DVC prints the whole table; within 120 characters, a 120-column terminal shows it uncut."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = [line.split("  #")[0].strip() for line in readme.splitlines() if line.startswith("dvc exp show ")]
    assert commands
    for command in commands:
        output = run(["bash", "-c", command], project).stdout
        lines = output.splitlines()
        assert any("[svm]" in line for line in lines), output
        assert max(len(line) for line in lines) <= 120, output


def test_queued_experiments_log_to_the_repository_store(project, client):
    """`dvc exp run --queue` runs in a temporary copy; its MLflow run must still land in the project's store."""
    before = len(client.search_runs([client.get_experiment_by_name("stance-intervention-statements").experiment_id]))
    run(["dvc", "exp", "run", "--queue", "-S", "model=complement_nb", "--name", "queued-nb"], project)
    run(["dvc", "exp", "run", "--run-all"], project)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    queued = [exp for commit in shown for exp in (commit.get("experiments") or []) if exp.get("name") == "queued-nb"]
    assert queued, shown
    assert "test" in queued[0]["revs"][0]["data"]["metrics"]["reports/metrics.json"]["data"]
    runs = client.search_runs([client.get_experiment_by_name("stance-intervention-statements").experiment_id])
    assert len(runs) == before + 1
    assert runs[0].data.params["model.name"] == "complement_nb"


def test_a_data_error_leaves_the_last_prepared_splits_in_place(project):
    """DVC deletes a stage's outputs before it runs it; a prepare that stops on a bad row must not lose the splits
    (without dataset.json, stance-predict would fall back to another data set's champion)."""
    data = project / "data/raw/statements.csv"
    prepared = ["train.parquet", "validation.parquet", "test.parquet", "dataset.json"]
    before = {name: (project / "data/processed" / name).read_bytes() for name in prepared}
    original = data.read_bytes()
    try:
        data.write_bytes(original + b'z-0001,"A new statement.",pro intervention,,,src-z,,,,\r\n')
        result = attempt(["dvc", "repro"], project)
        assert result.returncode != 0
        assert "outside the configured set" in result.stdout + result.stderr
        for name in prepared:
            assert (project / "data/processed" / name).read_bytes() == before[name], name
    finally:
        data.write_bytes(original)
