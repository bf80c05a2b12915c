"""Print what the last pipeline run produced: test metrics, the registered model and how to browse runs."""

import sys
from pathlib import Path

from pipeline.files import read_json

REPORTS = Path("reports")


def summary(reports_dir: Path = REPORTS) -> str:
    metrics = read_json(reports_dir / "metrics.json")
    registered = read_json(reports_dir / "registered_model.json")
    test, baseline = metrics["test"], metrics["baseline"]
    return "\n".join(
        [
            "",
            "Test set:  macro-F1 {:.3f}   F_avg {:.3f}   accuracy {:.3f}".format(
                test["macro_f1"], test["f_avg"], test["accuracy"]
            ),
            "Majority-class baseline:  macro-F1 {:.3f}   accuracy {:.3f}".format(
                baseline["macro_f1"], baseline["accuracy"]
            ),
            f"Registered model:  {registered['uri']}   (MLflow run {registered['run_id']})",
            'Load it:  mlflow.sklearn.load_model("{}").predict(["..."])'.format(registered["uri"]),
            "Browse runs:  .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db   then open http://127.0.0.1:5000",
            f"Reports:  {reports_dir}/ (metrics.json, confusion_matrix.png, classification_report.txt)",
        ]
    )


if __name__ == "__main__":
    try:
        print(summary())
    except FileNotFoundError as missing:
        sys.exit(f"error: {missing.filename} is missing; run the pipeline first (make run)")
