"""`make clean` removes generated outputs; `make reset` also the local MLflow store and DVC cache, asking first."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

OUTPUTS = [
    "data/processed/train.parquet",
    "data/processed/dataset.json",
    "models/classifier.skops",
    "models/train_run.json",
    "outputs/x/y.log",
    "reports/learning_curve.json",
    "reports/learning_curve.png",
]
STATE = ["mlflow.db", "mlruns/1/meta.yaml", ".dvc/cache/files/md5/ab/cdef", ".dvc/tmp/exps/x"]
KEPT = ["reports/metrics.json", "models/.gitignore", "data/raw/statements.csv", "params.yaml", ".dvc/config"]


@pytest.fixture
def workspace(tmp_path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for name in OUTPUTS + STATE + KEPT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    return tmp_path


def make(workspace: Path, *args: str, answer: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=workspace, input=answer, capture_output=True, text=True, timeout=60)


def present(workspace: Path, names: list[str]) -> list[str]:
    return [name for name in names if (workspace / name).exists()]


def test_clean_removes_outputs_and_keeps_runs_cache_and_committed_files(workspace):
    assert make(workspace, "clean").returncode == 0
    assert present(workspace, OUTPUTS) == []
    assert present(workspace, STATE + KEPT) == STATE + KEPT


def test_reset_asks_first_and_deletes_nothing_without_a_yes(workspace):
    result = make(workspace, "reset", answer="n\n")
    assert result.returncode != 0 and "nothing deleted" in result.stdout
    assert present(workspace, OUTPUTS + STATE + KEPT) == OUTPUTS + STATE + KEPT


@pytest.mark.parametrize(("args", "answer"), [(["reset"], "y\n"), (["reset", "FORCE=1"], "")])
def test_reset_removes_the_mlflow_store_and_dvc_cache_too(workspace, args, answer):
    assert make(workspace, *args, answer=answer).returncode == 0
    assert present(workspace, OUTPUTS + STATE) == []
    assert present(workspace, KEPT) == KEPT
