"""Wall time of `make run` and of the train stage against a bare scikit-learn script, and where it goes.

Run from the repository root after `make run` (so data/processed exists):
    .venv/bin/python benchmarks/train_stage.py
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 3
PYTHON = sys.executable
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


def wall(command: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_run_on_a_fresh_clone() -> float:
    """`make run` as on a fresh clone after set-up: no outputs, no DVC cache, no MLflow store; the venv exists."""
    times = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as folder:
            clone = Path(folder) / "clone"
            subprocess.run(["git", "clone", "-q", ".", str(clone)], check=True)
            (clone / ".venv").symlink_to(Path(".venv").resolve())
            start = time.perf_counter()
            # -o: the shared venv is installed already; never reinstall it from the temporary clone.
            subprocess.run(
                ["make", "-o", ".venv/.installed", "run"],
                cwd=clone,
                check=True,
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_cost(modules: str) -> float:
    return wall([PYTHON, "-c", f"import {modules}"])


def in_process_breakdown() -> dict[str, float]:
    """Time the train stage's own steps in one process, as pipeline.train.main runs them."""
    started = time.perf_counter()
    from hydra import compose, initialize_config_dir

    from pipeline import tracking
    from pipeline.data.stage_io import read_split
    from pipeline.train import fit_classifier, save_classifier, validation_scores

    imported = time.perf_counter()
    with initialize_config_dir(str(Path("conf").resolve()), version_base=None):
        cfg = compose(config_name="config", overrides=["mlflow.experiment=benchmark"])
    train, validation = read_split(cfg.paths.processed, "train"), read_split(cfg.paths.processed, "validation")
    loaded = time.perf_counter()
    classifier = fit_classifier(cfg, train)
    scores = validation_scores(cfg, classifier, validation)
    fitted = time.perf_counter()
    with tracking.training_run(cfg, cfg.data.path):
        tracking.log_config(cfg)
        tracking.log_dataset(train, cfg.data.path, cfg.data.name, context="training")
        tracking.log_metrics(scores, prefix="val_")
        logged_run = time.perf_counter()
        tracking.log_model(classifier, train[["text"]].head(3), "text", None)
    logged_model = time.perf_counter()
    save_classifier(classifier, "/tmp/benchmark_classifier.skops")
    saved = time.perf_counter()
    return {
        "imports (pipeline, hydra, mlflow, sklearn)": imported - started,
        "compose config + read splits": loaded - imported,
        "fit + validation scores": fitted - loaded,
        "MLflow run: params, dataset, metrics": logged_run - fitted,
        "MLflow log_model (skops)": logged_model - logged_run,
        "save .skops for DVC": saved - logged_model,
    }


def main() -> None:
    print(f"median of {REPEATS} runs, seconds")
    print(f"make run on a fresh clone (venv installed): {make_run_on_a_fresh_clone():.2f}")
    stage = [PYTHON, "-m", "pipeline.train", "--config-dir", ".", "--config-name", "params"]
    bare, ours = wall([PYTHON, "benchmarks/bare_train.py"]), wall(stage)
    bare_same_fit = wall([PYTHON, "benchmarks/bare_train.py", "--project-vectorizer"])
    print(f"bare scikit-learn script (imports included): {bare:.2f}")
    print(f"the same with the project's vectorizer (the stage's exact fit): {bare_same_fit:.2f}")
    print(f"train stage: {ours:.2f}  ({ours / bare:.2f}x the bare script, {ours / bare_same_fit:.2f}x the same fit)")
    print(f"import sklearn + pandas: {import_cost('sklearn.pipeline, sklearn.linear_model, pandas'):.2f}")
    print(f"import mlflow.sklearn: {import_cost('mlflow.sklearn'):.2f}")
    print(f"import hydra: {import_cost('hydra'):.2f}")
    for step, seconds in in_process_breakdown().items():
        print(f"  {step}: {seconds:.2f}")


if __name__ == "__main__":
    main()
