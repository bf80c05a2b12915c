"""Print what the last pipeline run produced: test metrics, the registered model and how to browse runs."""

import argparse
import os
import time
from pathlib import Path

import yaml

from pipeline.files import read_json

REPORTS = Path("reports")
LOCAL_STORE = "sqlite:///mlflow.db"
PARAMS = Path("params.yaml")


def refit_note(registered: dict) -> str:
    if registered.get("refit") != "all_labels":
        return ""
    return "\n   refitted on all labelled statements; the test scores above are those of the fit that left them out"


def promote_note(registered: dict) -> str:
    """The gate advises; the user decides. How to make a model it kept the champion all the same."""
    if registered["promoted"] or registered.get("holds_champion"):
        return ""
    name, version = registered["uri"].removeprefix("models:/").rsplit("/", 1)
    alias = registered["champion_uri"].rsplit("@", 1)[1]
    return (
        f"\n   to serve this model anyway, give it the alias yourself: in the MLflow UI (Models, {name}, Version "
        f"{version}, Aliases), or\n   mlflow.MlflowClient().set_registered_model_alias"
        f'("{name}", "{alias}", "{version}")'
    )


def registered_line(registered: dict) -> str:
    before = registered.get("registered_before_by")
    if before and before != registered["run_id"]:  # not when only the evaluate stage ran again
        return (
            f"Registered model:  {registered['uri']}, registered before by MLflow run {before}: this run "
            f"({registered['run_id']}) trained the same model, so it registered nothing new"
        )
    return f"Registered model:  {registered['uri']}   (MLflow run {registered['run_id']})"


def load_lines(champion_uri: str, store: str, input_columns: list[str] | None) -> list[str]:
    """How to use the champion from Python, through the project's loader: whoever can set the alias on a shared
    store decides what the champion is, and MLflow's own loaders would run any code such a model brings."""
    targets = ", target=targets" if input_columns and len(input_columns) > 1 else ""
    return [
        f'Load it:  from pipeline.inference import load_model; model = load_model("{champion_uri}")',
        f"   then model.tag(statements{targets}): a label and its probabilities per statement   "
        f"(MLFLOW_TRACKING_URI={store}; it loads only types the project trusts)",
    ]


def test_line(test: dict) -> str:
    return f"Test set:  macro-F1 {test['macro_f1']:.3f}   F_avg {test['f_avg']:.3f}   accuracy {test['accuracy']:.3f}"


def baseline_line(baseline: dict) -> str:
    return f"Majority-class baseline:  macro-F1 {baseline['macro_f1']:.3f}   accuracy {baseline['accuracy']:.3f}"


def reports_line(reports_dir: Path) -> str:
    return f"Reports:  {reports_dir}/ (metrics.json, confusion_matrix.png, classification_report.txt)"


METRIC_NAMES = {"macro_f1": "macro-F1", "f_avg": "F_avg", "accuracy": "accuracy"}


def target_lines(reports_dir: Path, metric: str) -> list[str]:
    """For data with stance targets, the lowest- and highest-scoring target by the selection metric."""
    path = reports_dir / "per_target_metrics.json"
    per_target = read_json(path) if path.is_file() else {}
    if len(per_target) < 2:  # no targets (or one, scored as the test set is)
        return []
    ranked = sorted(per_target.items(), key=lambda item: item[1][metric])  # stable: ties in target order
    (low, lowest), (high, highest) = ranked[0], ranked[-1]
    return [
        f"Per target:  {METRIC_NAMES.get(metric, metric)} from {lowest[metric]:.3f} ({low}, {lowest['statements']} "
        f"statements) to {highest[metric]:.3f} ({high}, {highest['statements']}); {len(per_target)} targets in "
        f"{path.name}"
    ]


def unchanged_note(registered_file: Path, since: float | None) -> list[str]:
    """When DVC found nothing to re-run, the report is an earlier run's: say so, and when it was written, so that
    its champion decision is not read as this command's."""
    if since is None or (written := registered_file.stat().st_mtime) >= since:
        return []
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(written))
    return [
        "",
        f"Nothing was retrained: the prepared statements, code and parameters are as in the run of {when}, whose "
        "results follow.",
    ]


def browse_lines(store: str, experiment_id: str) -> list[str]:
    """How to see the runs: the tracking server's own UI, or a local UI on the local store."""
    # MLflow 3 opens experiments on its GenAI overview unless asked for the model-training view.
    page = f"#/experiments/{experiment_id}?workflowType=machine_learning"
    if store.startswith(("http://", "https://")):
        return [f"Browse runs:  {store.rstrip('/')}/{page}"]
    return [
        f"Browse runs:  .venv/bin/mlflow ui --backend-store-uri {store}   then open",
        f"   http://127.0.0.1:5000/{page}",
    ]


def summary(reports_dir: Path = REPORTS, since: float | None = None) -> str:
    """The summary of the reports in reports_dir; `since` (a Unix time) is when this command started."""
    metrics = read_json(reports_dir / "metrics.json")
    registered_file = reports_dir / "registered_model.json"
    registered = read_json(registered_file)
    store = registered.get("tracking_uri", LOCAL_STORE)  # a report from before it was recorded: the local store
    outcome = "promoted" if registered["promoted"] else "not promoted"
    if registered.get("holds_champion") and not registered["promoted"]:
        outcome = "kept as champion"
    return "\n".join(
        [
            *unchanged_note(registered_file, since),
            "",
            test_line(metrics["test"]),
            *target_lines(reports_dir, registered.get("selection_metric", "f_avg")),
            baseline_line(metrics["baseline"]),
            registered_line(registered) + refit_note(registered),
            f"Champion:  {registered['champion_uri']}   this model {outcome}: {registered['decision']}"
            + promote_note(registered),
            *load_lines(registered["champion_uri"], store, registered.get("input_columns")),
            *browse_lines(store, registered["experiment_id"]),
            reports_line(reports_dir),
        ]
    )


def unrecorded_summary(reports_dir: Path, params_file: Path = PARAMS) -> str:
    """Reports that came with git, and a model with `dvc pull`, from a run on another machine: DVC re-ran nothing
    here, and the registered version is recorded only where the evaluate stage ran (registered_model.json is not
    an output). The scores are that run's; the champion is the store's."""
    metrics = read_json(reports_dir / "metrics.json")
    params = yaml.safe_load(params_file.read_text(encoding="utf-8")) if params_file.is_file() else {}
    settings = (params or {}).get("mlflow") or {}
    # The stages' order (tracking.resolve_tracking_uri, not imported: it brings MLflow into a one-second command):
    # the config, then MLFLOW_TRACKING_URI, then the local store.
    store = settings.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or LOCAL_STORE
    champion_uri = f"models:/{settings.get('registered_model', 'stance-classifier')}@champion"
    return "\n".join(
        [
            "",
            "Nothing was retrained: the prepared statements, code and parameters are those of the run that wrote "
            "these reports, on another machine or in another clone.",
            "",
            test_line(metrics["test"]),
            baseline_line(metrics["baseline"]),
            f"Registered model:  recorded where that run's evaluate stage ran, not here "
            f"({reports_dir}/registered_model.json); its versions are in {store}",
            *load_lines(champion_uri, store, None),
            "Compare runs:  python -m pipeline.compare",
            reports_line(reports_dir),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--since", type=float, help="when the run started (Unix time), to tell new reports from old")
    args = parser.parse_args(argv)
    try:
        if (REPORTS / "metrics.json").is_file() and not (REPORTS / "registered_model.json").is_file():
            print(unrecorded_summary(REPORTS))
        else:
            print(summary(since=args.since))
    except FileNotFoundError as missing:
        raise SystemExit(f"error: {missing.filename} is missing; run the pipeline first (make run)") from None


if __name__ == "__main__":
    main()
