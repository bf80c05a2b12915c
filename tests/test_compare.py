"""`python -m pipeline.compare`: the best runs of an experiment as a table and a chart, from a real MLflow store."""

import json
import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from conftest import FIXTURE_CSV, REPO, compose_config
from local_server import free_port
from PIL import Image

from pipeline import compare, tracking

EXPERIMENT = "stance-intervention-statements"
BASELINE = 0.21

# Four runs as the pipeline logs them: two evaluated (test and baseline scores), one trained only, one with
# every score. Logged oldest first; runs_table lists the newest first.
RUNS = [
    (
        "logreg",
        "word",
        {"val_macro_f1": 0.71, "test_macro_f1": 0.66, "test_f_avg": 0.64, "test_accuracy": 0.70},
    ),
    ("linear_svm", "char", {"val_macro_f1": 0.78}),
    (
        "complement_nb",
        "word_char",
        {"val_macro_f1": 0.64, "test_macro_f1": 0.69, "test_f_avg": 0.67, "test_accuracy": 0.72},
    ),
    (
        "sgd",
        "word",
        {"val_macro_f1": 0.55, "test_macro_f1": 0.52, "test_f_avg": 0.50, "test_accuracy": 0.58},
    ),
]
SWEEP_CHILD_SCORES = {"logreg": 0.74, "complement_nb": 0.69}


def log_pipeline_run(uri: str, model: str, features: str, metrics: dict[str, float], overrides=()) -> str:
    """A run named, tagged and configured by the pipeline's own tracking functions."""
    cfg = compose_config([f"model={model}", f"features={features}", f"mlflow.tracking_uri={uri}", *overrides])
    with tracking.training_run(cfg, str(FIXTURE_CSV)) as run:
        tracking.log_config(cfg)
        tracking.log_metrics(metrics)
        if "test_macro_f1" in metrics:
            tracking.log_metrics({"macro_f1": BASELINE, "f_avg": 0.0, "accuracy": 0.4}, prefix="baseline_")
    return run.info.run_id


def log_sweep(uri: str) -> str:
    """A sweep as Hydra's --multirun logs it: a parent run tagged sweep_role=parent, its jobs as children."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="sweep · model=logreg,complement_nb", tags={"sweep_role": "parent"}) as parent:
        for model, score in SWEEP_CHILD_SCORES.items():
            with mlflow.start_run(
                run_name=f"{model} · char · swept", nested=True, tags={"model": model, "features": "char"}
            ):
                mlflow.log_metric("val_macro_f1", score)
        mlflow.log_metric("best_val_macro_f1", max(SWEEP_CHILD_SCORES.values()))
    return parent.info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    run_ids = {model: log_pipeline_run(uri, model, features, metrics) for model, features, metrics in RUNS}
    parent_id = log_sweep(uri)
    mlflow.MlflowClient(tracking_uri=uri).create_experiment("empty-experiment")
    yield {"uri": uri, "run_ids": run_ids, "parent_id": parent_id}
    # set_tracking_uri also exports MLFLOW_TRACKING_URI: leave neither to the tests that follow.
    mlflow.set_tracking_uri(None)


def run_compare(store, capsys, *args: str, chart=None) -> str:
    compare.main(["--tracking-uri", store["uri"], "--chart", str(chart), *args])
    return capsys.readouterr().out


def table_lines(output: str) -> list[str]:
    """The table's data rows: the lines after the header's dashes, up to the blank line."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("-  ---")) + 1
    return lines[start : lines.index("", start)]


def user_error(store, capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        compare.main(["--tracking-uri", store["uri"], *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    return captured.err


def test_the_table_ranks_runs_best_first_and_skips_sweep_parents(store, capsys, tmp_path):
    output = run_compare(store, capsys, chart=tmp_path / "chart.png")
    rows = table_lines(output)
    assert [row.split()[1] for row in rows] == [
        "linear_svm",
        "logreg",  # the sweep's logreg child, 0.74
        "logreg",
        "complement_nb",  # the sweep's child, 0.69
        "complement_nb",
        "sgd",
    ], output
    assert "sweep ·" not in output
    assert "1 sweep parent run(s) skipped (--include-parents to rank them)" in output
    header = output.splitlines()[2].split()
    assert header[:5] == ["#", "run", "model", "features", "key"]
    assert header[-6:] == ["val_macro_f1", "test_macro_f1", "test_f_avg", "test_accuracy", "run", "id"]
    best = rows[0]
    assert "linear_svm · char · C=0.5" in best and "C=0.5" in best
    assert best.split()[-1] == store["run_ids"]["linear_svm"][:8]
    # Trained but never evaluated: its test scores are shown as missing, not as zeros.
    assert best.split()[-5:-1] == ["0.780", "-", "-", "-"]
    logreg = next(row for row in rows if store["run_ids"]["logreg"][:8] in row)
    assert logreg.split()[-5:-1] == ["0.710", "0.660", "0.640", "0.700"]
    assert f"Majority-class baseline (baseline_macro_f1, test split): {BASELINE:.3f}" in output


def test_ranking_by_a_test_score_leaves_out_runs_that_were_never_evaluated(store, capsys, tmp_path):
    output = run_compare(store, capsys, "--metric", "test_macro_f1", chart=tmp_path / "chart.png")
    rows = table_lines(output)
    assert [row.split()[-1] for row in rows] == [
        store["run_ids"][model][:8] for model in ("complement_nb", "logreg", "sgd")
    ]
    # The ranked metric comes first among the scores.
    assert output.splitlines()[2].split()[6] == "test_macro_f1"
    assert "3 run(s) without test_macro_f1 not shown" in output


def test_top_limits_the_table_and_the_chart(store, capsys, tmp_path):
    chart = tmp_path / "top2.png"
    output = run_compare(store, capsys, "--top", "2", chart=chart)
    assert len(table_lines(output)) == 2
    assert output.startswith(f"Best 2 of 6 runs in '{EXPERIMENT}' by val_macro_f1")
    assert f"Chart: {chart}" in output
    assert Image.open(chart).format == "PNG"


def test_include_parents_ranks_a_sweep_by_its_best_child(store, capsys, tmp_path):
    output = run_compare(store, capsys, "--include-parents", chart=tmp_path / "chart.png")
    rows = table_lines(output)
    assert len(rows) == 7
    parent = next(row for row in rows if row.split()[1] == "sweep")
    assert parent.split()[-5] == "0.740"
    assert "skipped" not in output
    assert "Sweep parent runs without val_macro_f1 show best_val_macro_f1, their best child's score" in output


def test_the_chart_shows_the_best_run_on_top_with_the_baseline_as_a_line(store):
    runs = compare.load_runs(store["uri"], EXPERIMENT)
    ranked, _ = compare.rank_runs(runs, "val_macro_f1")
    rows = compare.comparison_rows(ranked, "val_macro_f1")
    figure = compare.comparison_chart(rows, "val_macro_f1", "title", compare.baseline_score(ranked, "val_macro_f1"))
    axes = figure.axes[0]
    bars = sorted(axes.patches, key=lambda bar: -bar.get_y())
    assert [round(bar.get_width(), 2) for bar in bars] == [0.78, 0.74, 0.71, 0.69, 0.64, 0.55]
    top_label = max(axes.get_yticklabels(), key=lambda label: label.get_position()[1]).get_text()
    assert top_label == f"linear_svm · char · C=0.5  ({store['run_ids']['linear_svm'][:8]})"
    baselines = [line for line in axes.lines if "baseline" in line.get_label()]
    assert len(baselines) == 1 and baselines[0].get_xdata()[0] == pytest.approx(BASELINE)


def test_the_chart_goes_to_reports_by_default(store, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    compare.main(["--tracking-uri", store["uri"], "--metric", "test_f_avg"])
    assert "Chart: reports/compare_test_f_avg.png" in capsys.readouterr().out
    assert Image.open(tmp_path / "reports" / "compare_test_f_avg.png").size[0] > 500


def test_missing_values_are_shown_as_dashes():
    rows = pd.DataFrame(
        {"#": [1, 2], "run": ["a · b", None], "val_macro_f1": [0.5, float("nan")], "run id": ["abc", "def"]}
    )
    table = compare.format_table(rows).splitlines()
    assert table[0].split() == ["#", "run", "val_macro_f1", "run", "id"]
    assert table[2].split() == ["1", "a", "·", "b", "0.500", "abc"]
    assert table[3].split() == ["2", "-", "-", "def"]


def test_an_unknown_experiment_is_a_clear_error(store, capsys):
    error = user_error(store, capsys, "--experiment", "stance-classifier")  # the registered model's name
    assert "experiment 'stance-classifier' not found" in error
    # The experiments that exist, so that the user can pick one instead of being told to pass the flag just passed.
    assert "its experiments: 'Default', 'empty-experiment', 'stance-intervention-statements'" in error


def test_an_experiment_without_runs_is_a_clear_error(store, capsys):
    assert "has no runs yet" in user_error(store, capsys, "--experiment", "empty-experiment")


def test_an_unknown_metric_lists_the_metrics_the_runs_have(store, capsys):
    error = user_error(store, capsys, "--metric", "val_macro_f2")
    assert "no run logged the metric 'val_macro_f2'; did you mean 'val_macro_f1'" in error
    for metric in ("val_macro_f1", "test_f_avg", "baseline_macro_f1", "best_val_macro_f1"):
        assert metric in error
    # The metric without its split's prefix: both splits' are offered.
    error = user_error(store, capsys, "--metric", "macro_f1")
    assert "did you mean 'val_macro_f1' or 'test_macro_f1'" in error


def test_an_unknown_metric_counts_the_per_label_ones_rather_than_listing_them():
    available = ["test_f1/neutral", "test_f1/pro-intervention", "test_macro_f1", "val_macro_f1"]
    message = compare.unknown_metric_message("accuracy", available)
    assert message == (
        "no run logged the metric 'accuracy'; the runs have: test_macro_f1, val_macro_f1, and 2 per label or per "
        "target (such as 'test_f1/neutral')"
    )
    # Without any test score, where test scores come from and what quick runs score.
    message = compare.unknown_metric_message("test_macro_f1", ["val_macro_f1"])
    assert message.endswith("quick runs (python -m pipeline.train) and sweeps score the validation split only (val_*)")
    assert "Test scores" not in compare.unknown_metric_message("test_f1", available)


def test_a_missing_local_store_is_not_created(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        compare.main([])
    assert exit_info.value.code == 2
    assert "no MLflow store at mlflow.db" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:{port}", "did not answer: Connection refused"),  # MLflow's client would retry for minutes
        ("mlflow.db", "did you mean sqlite:///mlflow.db?"),  # MLflow would refuse a file store in a traceback
    ],
)
def test_a_store_that_cannot_answer_is_one_line(capsys, uri, expected):
    uri = uri.format(port=free_port())
    with pytest.raises(SystemExit) as exit_info:
        compare.main(["--tracking-uri", uri])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1


def test_the_command_reports_errors_without_a_traceback(store, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.compare", "--tracking-uri", store["uri"], "--metric", "nope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: no run logged the metric 'nope'")
    assert "Traceback" not in result.stderr


def test_a_reader_that_stops_early_gets_no_traceback(store, tmp_path):
    """`python -m pipeline.compare | head -3`: the pipe is closed before the table is written."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "pipeline.compare", "--tracking-uri", store["uri"], "--chart", "c.png"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as `head` does once it has its lines; here before the first one
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipeError" not in err


def test_runs_of_a_dvc_experiment_are_named_and_can_be_picked_out(capsys, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.7})
    monkeypatch.setenv("DVC_EXP_NAME", "bronze-fish")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "f" * 40)
    experiment_run = log_pipeline_run(uri, "sgd", "word", {"val_macro_f1": 0.6})
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_EXP_BASELINE_REV")
    failed_elsewhere = log_pipeline_run(uri, "logreg", "char", {"val_macro_f1": 0.5})
    mlflow.MlflowClient(tracking_uri=uri).set_terminated(failed_elsewhere, status="FAILED")
    try:
        everything = run_compare({"uri": uri}, capsys, chart=tmp_path / "all.png")
        assert everything.splitlines()[2].split()[-2:] == ["dvc", "exp"]
        assert table_lines(everything)[1].endswith("bronze-fish")
        only = run_compare({"uri": uri}, capsys, "--dvc-exp", "bronze-fish", chart=tmp_path / "one.png")
        assert [row.split()[1] for row in table_lines(only)] == ["sgd"]
        assert "FAILED" in everything and "FAILED" not in only  # a failed run of no experiment is not counted in
        assert experiment_run[:8] in only
        run = mlflow.MlflowClient(tracking_uri=uri).get_run(experiment_run)
        assert run.data.tags["dvc_baseline_rev"] == "f" * 40
        assert run.info.run_name.endswith("· dvc exp bronze-fish")
        assert "runs name these: bronze-fish" in user_error({"uri": uri}, capsys, "--dvc-exp", "other")
    finally:
        mlflow.set_tracking_uri(None)


def test_key_params_of_a_search_show_four_significant_digits(capsys, tmp_path):
    """An Optuna trial's sampled value is logged in full; the table shows it as the run name does."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    searched = log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.7}, ["model.estimator.C=0.6646459471581082"])
    params = mlflow.MlflowClient(tracking_uri=uri).get_run(searched).data.params
    assert params["model.key_params"] == "C=0.6646459471581082"
    try:
        [row] = table_lines(run_compare({"uri": uri}, capsys, chart=tmp_path / "chart.png"))
        assert "C=0.6646 " in row and searched[:8] in row
    finally:
        mlflow.set_tracking_uri(None)


def write_manifest(folder, digest: str) -> None:
    """The prepare stage's record of the data it split (data/processed/dataset.json), for data with `digest`."""
    manifest = folder / "data" / "processed" / "dataset.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": "intervention-statements", "split": {"kind": "fractions", "test_size": 0.15}, "group_column": "a"}
    data["registered_model"] = "stance-classifier"
    manifest.write_text(json.dumps({"data": data, "seed": 42, "digest": digest}), encoding="utf-8")


def test_runs_scored_on_other_splits_are_left_out_until_asked_for(capsys, tmp_path, monkeypatch):
    """After statements are added, the splits hold other statements: old and new scores are not ranked together."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    processed = f"paths.processed={tmp_path / 'data' / 'processed'}"
    write_manifest(tmp_path, "a" * 32)
    before = log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.9}, [processed])
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_name="logged before runs recorded their splits", tags={"data_md5": "a" * 32}) as legacy:
        mlflow.log_metric("val_macro_f1", 0.95)
    write_manifest(tmp_path, "b" * 32)  # statements added, prepared again
    after = log_pipeline_run(uri, "sgd", "word", {"val_macro_f1": 0.6}, [processed])
    monkeypatch.chdir(tmp_path)
    try:
        from pipeline.data.prepared_data import splits_digest

        assert mlflow.MlflowClient().get_run(after).data.tags["splits_md5"] == splits_digest()
        current = run_compare({"uri": uri}, capsys, chart=tmp_path / "now.png")
        assert [row.split()[1] for row in table_lines(current)] == ["sgd"]
        assert "2 run(s) on other data or splits than those prepared (--all-data to include) not shown" in current
        everything = run_compare({"uri": uri}, capsys, "--all-data", chart=tmp_path / "all.png")
        shown = "".join(table_lines(everything))
        assert all(run_id[:8] in shown for run_id in (before, legacy.info.run_id, after))
        # The champion is marked where it is shown, and named where it is not.
        client = mlflow.MlflowClient()
        client.create_registered_model("stance-classifier")
        version = client.create_model_version("stance-classifier", f"runs:/{before}/model", run_id=before)
        client.set_registered_model_alias("stance-classifier", "champion", version.version)
        marked = table_lines(run_compare({"uri": uri}, capsys, "--all-data", chart=tmp_path / "all.png"))
        assert [line for line in marked if "(champion)" in line] == [line for line in marked if before[:8] in line]
        hidden = run_compare({"uri": uri}, capsys, chart=tmp_path / "now.png")
        assert f"The champion (models:/stance-classifier@champion, run {before[:8]}) is not among these runs" in hidden
    finally:
        mlflow.set_tracking_uri(None)


def test_another_data_sets_experiment_is_ranked_by_its_own_metric_splits_and_champion(capsys, tmp_path, monkeypatch):
    """With one data set prepared, `--experiment stance-<other>` ranks the other by what its own runs recorded:
    its selection metric, its newest run's splits and its registered model's champion; its chart is its own."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    write_manifest(tmp_path, "a" * 32)  # the shipped corpus is prepared here
    log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.8}, [f"paths.processed={tmp_path / 'data/processed'}"])
    other = tmp_path / "other"
    settings = ["data.name=quotes-b", "data.selection_metric=f_avg", "data.registered_model=stance-quotes-b"]
    settings.append(f"paths.processed={other / 'data/processed'}")
    write_manifest(other, "c" * 32)
    old = log_pipeline_run(uri, "logreg", "word", {"val_f_avg": 0.9, "val_macro_f1": 0.2}, settings)
    write_manifest(other, "d" * 32)  # statements added to the other data set
    newer = log_pipeline_run(uri, "sgd", "word", {"val_f_avg": 0.5, "val_macro_f1": 0.9}, settings)
    best = log_pipeline_run(uri, "linear_svm", "word", {"val_f_avg": 0.6, "val_macro_f1": 0.1}, settings)
    monkeypatch.chdir(tmp_path)
    try:
        client = mlflow.MlflowClient()
        client.create_registered_model("stance-quotes-b")
        version = client.create_model_version("stance-quotes-b", f"runs:/{newer}/model", run_id=newer)
        client.set_registered_model_alias("stance-quotes-b", "champion", version.version)
        compare.main(["--tracking-uri", uri, "--experiment", "stance-quotes-b"])
        output = capsys.readouterr().out
        assert output.startswith("Best 2 of 2 runs in 'stance-quotes-b' by val_f_avg")
        rows = table_lines(output)
        assert [row.split()[1] for row in rows] == ["linear_svm", "sgd"]
        assert [line for line in rows if "(champion)" in line] == [line for line in rows if newer[:8] in line]
        assert old[:8] not in output and best[:8] in output
        assert "1 run(s) on other data or splits than the newest run's (--all-data to include) not shown" in output
        assert "Chart: reports/compare_stance-quotes-b_val_f_avg.png" in output
        assert (tmp_path / "reports" / "compare_stance-quotes-b_val_f_avg.png").is_file()
        compare.main(["--tracking-uri", uri])
        prepared = capsys.readouterr().out
        assert prepared.startswith("Best 1 of 1 runs in 'stance-intervention-statements' by val_macro_f1")
        assert "Other data sets in this store: stance-quotes-b (--experiment NAME)" in prepared
        assert "Chart: reports/compare_val_macro_f1.png" in prepared
    finally:
        mlflow.set_tracking_uri(None)


def test_reruns_of_one_configuration_are_one_row_with_their_count_and_the_champion_stands_for_them(capsys, tmp_path):
    """`make run` again, a sweep repeated: the same configuration on the same data scores the same, and would fill
    the top ten with copies. A configuration is one row, shown by the champion when the champion is one of its runs."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    champion = log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.70})
    evaluated = {"val_macro_f1": 0.72, "test_macro_f1": 0.69, "test_f_avg": 0.6, "test_accuracy": 0.7}
    reruns = [log_pipeline_run(uri, "logreg", "word", scores) for scores in ({"val_macro_f1": 0.70}, evaluated)]
    # The newest run of the best score, but a sweep job's: the evaluated run of that score shows the configuration.
    reruns.append(log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.72}))
    stronger = log_pipeline_run(uri, "logreg", "word", {"val_macro_f1": 0.75}, ["model.estimator.C=8"])
    other = log_pipeline_run(uri, "sgd", "word", {"val_macro_f1": 0.71})
    try:
        output = run_compare({"uri": uri}, capsys, chart=tmp_path / "chart.png")
        assert output.startswith("Best 3 of 3 configurations (6 runs) in ")
        rows = table_lines(output)
        assert [row.split()[-1] for row in rows] == [stronger[:8], reruns[1][:8], other[:8]]
        assert output.splitlines()[2].split()[-3:] == ["runs", "run", "id"]
        assert [row.split()[-2] for row in rows] == ["1", "4", "1"]
        assert rows[1].split()[-6:-2] == ["0.720", "0.690", "0.600", "0.700"]
        assert "3 rerun(s) of a configuration shown once, by its best run or the champion" in output
        # The champion, an older run of the folded configuration, shows it instead of its best run.
        client = mlflow.MlflowClient(tracking_uri=uri)
        client.create_registered_model("stance-classifier")
        version = client.create_model_version("stance-classifier", f"runs:/{champion}/model", run_id=champion)
        client.set_registered_model_alias("stance-classifier", "champion", version.version)
        rows = table_lines(run_compare({"uri": uri}, capsys, chart=tmp_path / "chart.png"))
        assert [row.split()[-1] for row in rows] == [stronger[:8], other[:8], champion[:8]]
        assert "(champion)" in rows[2] and rows[2].split()[-2] == "4"
        every = run_compare({"uri": uri}, capsys, "--every-run", chart=tmp_path / "chart.png")
        assert every.startswith("Best 6 of 6 runs in ") and "rerun(s)" not in every
        assert len(table_lines(every)) == 6
    finally:
        mlflow.set_tracking_uri(None)


def test_the_same_settings_on_other_data_are_not_reruns():
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "params.model.name": ["logreg", "logreg", "logreg", None],
            "params.mlflow.tracking_uri": ["sqlite:///x.db", "sqlite:///y.db", "sqlite:///x.db", None],
            "tags.data_md5": ["1", "1", "2", None],
            "tags.splits_md5": ["s", "s", "s", None],
            "metrics.val_macro_f1": [0.8, 0.8, 0.7, 0.6],
        }
    )
    shown, counts = compare.fold_reruns(runs, "val_macro_f1")
    assert list(shown["run_id"]) == ["a", "c", "d"]  # b: a's settings and data, logged elsewhere
    assert list(counts) == [2, 1, 1]
    # A run that logged no settings (logged by hand) is never taken for another's rerun.
    shown, _ = compare.fold_reruns(
        pd.concat([runs, runs.iloc[[3]].assign(run_id="e")], ignore_index=True), "val_macro_f1"
    )
    assert list(shown["run_id"]) == ["a", "c", "d", "e"]
