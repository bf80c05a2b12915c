"""Print what the last pipeline run produced: test metrics, the registered model and how to browse runs."""

import sys
from pathlib import Path

from pipeline.files import read_json

REPORTS = Path("reports")


def refit_note(registered: dict) -> str:
    if registered.get("refit") != "all_labels":
        return ""
    return "\n   refitted on all labelled statements; the test scores above are those of the fit that left them out"


def input_note(registered: dict) -> str:
    """How to call the loaded model: a DataFrame with the data set's own columns, which need not be "text"."""
    columns = registered.get("input_columns")
    if not columns:  # written by an older evaluate stage
        return ""
    names = ("statements", "targets")
    frame = ", ".join(f'"{column}": {name}' for column, name in zip(columns, names, strict=False))
    return f"\n   then .predict(pd.DataFrame({{{frame}}})), one label per row"


def summary(reports_dir: Path = REPORTS) -> str:
    metrics = read_json(reports_dir / "metrics.json")
    registered = read_json(reports_dir / "registered_model.json")
    test, baseline = metrics["test"], metrics["baseline"]
    outcome = "promoted" if registered["promoted"] else "not promoted"
    return "\n".join(
        [
            "",
            f"Test set:  macro-F1 {test['macro_f1']:.3f}   F_avg {test['f_avg']:.3f}   accuracy {test['accuracy']:.3f}",
            f"Majority-class baseline:  macro-F1 {baseline['macro_f1']:.3f}   accuracy {baseline['accuracy']:.3f}",
            f"Registered model:  {registered['uri']}   (MLflow run {registered['run_id']}){refit_note(registered)}",
            f"Champion:  {registered['champion_uri']}   this model {outcome}: {registered['decision']}",
            f'Load it:  mlflow.pyfunc.load_model("{registered["champion_uri"]}")   (MLFLOW_TRACKING_URI=sqlite:///mlflow.db)'
            + input_note(registered),
            "Browse runs:  .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db   then open",
            # MLflow 3 opens experiments on its GenAI overview unless asked for the model-training view.
            f"   http://127.0.0.1:5000/#/experiments/{registered['experiment_id']}?workflowType=machine_learning",
            f"Reports:  {reports_dir}/ (metrics.json, confusion_matrix.png, classification_report.txt)",
        ]
    )


if __name__ == "__main__":
    try:
        print(summary())
    except FileNotFoundError as missing:
        sys.exit(f"error: {missing.filename} is missing; run the pipeline first (make run)")
