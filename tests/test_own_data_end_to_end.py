"""An own-data run next to the shipped corpus, through DVC and MLflow in a temporary copy of the repository:
the SemEval-format recipe runs with `data=semeval2016` and no hand edits, and never touches the shipped champion."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import reproduced_copy, run

pytestmark = pytest.mark.slow

SHIPPED, SEMEVAL = "stance-classifier", "stance-semeval2016-task6"
FIXTURE = "tests/fixtures/semeval2016"
GOLD = f"{FIXTURE}/SemEval2016-Task6-subtaskA-testdata-gold.txt"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The shipped pipeline reproduced once, then the SemEval recipe run as a DVC experiment beside it."""
    project = reproduced_copy(tmp_path_factory.mktemp("own-data") / "project")
    run(["dvc", "exp", "run", "-S", "data=semeval2016", "-S", f"data.path={FIXTURE}", "--name", "semeval"], project)
    return project


@pytest.fixture(scope="module")
def client(project):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def stage(project: Path, module: str, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", module, "--config-dir", ".", "--config-name", "params", *overrides],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_shipped_champion_survives_an_own_data_run(client):
    shipped = client.get_model_version_by_alias(SHIPPED, "champion")
    assert str(shipped.version) == "1" and shipped.tags["dataset"] == "intervention-statements"
    assert len(client.search_model_versions(f"name = '{SHIPPED}'")) == 1
    own = client.get_model_version_by_alias(SEMEVAL, "champion")
    assert own.tags["dataset"] == "semeval2016-task6" and own.tags["selection_metric"] == "f_avg"
    assert client.get_registered_model(SEMEVAL).tags["labels"] == "['FAVOR', 'AGAINST', 'NONE']"
    experiments = {client.get_run(version.run_id).info.experiment_id for version in (shipped, own)}
    assert len(experiments) == 2


def test_the_recipe_scores_the_gold_test_file_with_f_avg(project):
    metrics = json.loads((project / "reports/metrics.json").read_text())
    test = pd.read_parquet(project / "data/processed/test.parquet")
    gold = pd.read_csv(project / GOLD, sep="\t", encoding="cp1252", quoting=3, dtype=str)
    assert sorted(test["id"]) == sorted(gold["ID"])
    assert metrics["test"]["f_avg"] > metrics["baseline"]["f_avg"] + 0.3


def test_the_recipe_reports_and_logs_each_targets_scores(project, client):
    from pipeline.summary import summary

    per_target = json.loads((project / "reports/per_target_metrics.json").read_text())
    test = pd.read_parquet(project / "data/processed/test.parquet")
    assert list(per_target) == sorted(test["target"].unique())
    assert sum(scores["statements"] for scores in per_target.values()) == len(test)
    run = client.get_run(client.get_model_version_by_alias(SEMEVAL, "champion").run_id)
    for target, scores in per_target.items():
        assert run.data.metrics[f"test_by_target/{target}/f_avg"] == pytest.approx(scores["f_avg"])
    # The train stage scored each target on the validation split too.
    validation = pd.read_parquet(project / "data/processed/validation.parquet")
    for target, rows in validation.groupby("target"):
        assert run.data.metrics[f"val_by_target/{target}/statements"] == len(rows)
    predictions = pd.read_csv(project / "reports/test_predictions.csv", dtype=str)
    assert list(predictions.columns) == ["id", "label", "predicted", "target"]
    assert "Per target:  F_avg from " in summary(project / "reports")


def test_stance_predict_passes_the_users_target_column(project, client):
    """The gold file as it is (a .txt table in Windows-1252): labels as the pipeline scored them.

    The model the test split scored is the champion's held-out twin: the champion itself is refitted on all labels.
    """
    env = {**os.environ, "PYTHONPATH": str(project)}
    env.pop("MLFLOW_TRACKING_URI", None)
    scored_model = client.get_model_version_by_alias(SEMEVAL, "champion").tags["held_out_model_uri"]
    command = [sys.executable, "-m", "pipeline.predict", "--model", scored_model]
    options = ["--input-format", "tsv", "--encoding", "cp1252", "--label-column", "predicted", "-o", "tagged.csv"]
    result = subprocess.run(
        [*command, GOLD, *options], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    tagged = pd.read_csv(project / "tagged.csv", dtype=str)
    scored = pd.read_csv(project / "reports/test_predictions.csv", dtype=str).set_index("id")
    assert (tagged.set_index("ID")["predicted"] == scored.loc[tagged["ID"], "predicted"].to_numpy()).all()

    untargeted = subprocess.run(
        [*command, "--lines"], input="We must act on emissions\n", cwd=project, env=env, capture_output=True, text=True
    )
    assert untargeted.returncode == 2 and "trained with stance targets" in untargeted.stderr


def test_registering_under_another_data_sets_model_is_refused(project, client):
    before = client.get_model_version_by_alias(SHIPPED, "champion").version
    runs_before = len(client.search_runs(client.get_experiment_by_name(SEMEVAL).experiment_id))
    model_file = (project / "models/classifier.skops").read_bytes()
    for module in ("pipeline.train", "pipeline.evaluate"):  # train refuses before fitting, evaluate before registering
        result = stage(project, module, f"mlflow.registered_model={SHIPPED}")
        assert result.returncode == 2, result.stderr
        assert f"registered model '{SHIPPED}' holds models of data set 'intervention-statements'" in result.stderr
        assert "Traceback" not in result.stderr
    assert len(client.search_runs(client.get_experiment_by_name(SEMEVAL).experiment_id)) == runs_before
    assert (project / "models/classifier.skops").read_bytes() == model_file
    assert client.get_model_version_by_alias(SHIPPED, "champion").version == before
    assert len(client.search_model_versions(f"name = '{SHIPPED}'")) == 1


def test_mlflow_models_serve_takes_the_users_columns_and_refuses_a_missing_target(project, client):
    import urllib.error
    import urllib.request

    from local_server import local_server

    bin_dir = Path(sys.executable).parent  # `mlflow models serve` runs `uvicorn` from PATH
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    # The model the recipe scored: version 1's held-out twin (version 1 itself is refitted on all labels).
    scored_model = client.get_model_version(SEMEVAL, "1").tags["held_out_model_uri"]
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", scored_model, "--env-manager", "local"]
    gold = pd.read_csv(project / GOLD, sep="\t", encoding="cp1252", quoting=3, dtype=str).head(25)
    scored = pd.read_csv(project / "reports/test_predictions.csv", dtype=str).set_index("id")

    def invoke(url: str, columns: list[str]):
        body = json.dumps({"dataframe_split": {"columns": columns, "data": gold[columns].to_numpy().tolist()}})
        request = urllib.request.Request(
            f"{url}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["predictions"]

    with local_server(lambda port: [*command, "-h", "127.0.0.1", "-p", str(port)], project, env, "/ping", 120) as url:
        served = invoke(url, ["Tweet", "Target"])
        with pytest.raises(urllib.error.HTTPError) as refused:
            invoke(url, ["Tweet"])
    # The server answers as the evaluation did.
    assert served == list(scored.loc[gold["ID"], "predicted"])
    assert refused.value.code == 400 and "Target" in refused.value.read().decode()


def test_a_broken_champion_is_reported_kept_and_replaced_only_on_request(project, client):
    """Last in this module: it truncates the champion's model file."""
    champion = client.get_model_version_by_alias(SEMEVAL, "champion")
    source = Path(client.get_model_version_download_uri(SEMEVAL, champion.version).removeprefix("file://"))
    skops_file = next(source.glob("*.skops"))
    skops_file.write_bytes(skops_file.read_bytes()[:100])  # a truncated upload

    kept = stage(project, "pipeline.evaluate")
    assert kept.returncode == 0, kept.stderr
    registered = json.loads((project / "reports/registered_model.json").read_text())
    assert not registered["promoted"] and "champion.replace_broken=true" in registered["decision"]
    broken = f"models:/{SEMEVAL}/{champion.version}"
    assert f"could not be loaded or scored ({broken}: could not be loaded as a skops model" in registered["decision"]
    assert registered["decision"].count(broken) == 1
    assert client.get_model_version_by_alias(SEMEVAL, "champion").version == champion.version

    replaced = stage(project, "pipeline.evaluate", "champion.replace_broken=true")
    assert replaced.returncode == 0, replaced.stderr
    registered = json.loads((project / "reports/registered_model.json").read_text())
    assert registered["promoted"]
    assert client.get_model_version_by_alias(SEMEVAL, "champion").version != champion.version
