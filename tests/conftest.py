"""Shared fixtures: the tiny labelled fixture, composed configs, and an isolated MLflow store."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
FIXTURE_CSV = REPO / "tests" / "fixtures" / "statements.csv"


# Set before any test module imports `datasets`, which reads them once at import time: no test reaches
# the network or writes into the user's caches, MLflow store or git identity.
HF_CACHE = Path(tempfile.mkdtemp(prefix="stance-tests-hf-"))
os.environ.update(
    {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(HF_CACHE),
        "HF_DATASETS_CACHE": str(HF_CACHE / "datasets"),
        "GIT_AUTHOR_NAME": "Stance Tests",
        "GIT_COMMITTER_NAME": "Stance Tests",
        "GIT_AUTHOR_EMAIL": "tests@example.org",
        "GIT_COMMITTER_EMAIL": "tests@example.org",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
)
os.environ.pop("MLFLOW_TRACKING_URI", None)


def pytest_addoption(parser):
    parser.addoption(
        "--ui-screenshots",
        metavar="DIR",
        help="tests/test_mlflow_ui.py saves its screenshots of the MLflow UI (the docs' images) into DIR",
    )


def compose_config(overrides: list[str] | None = None):
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        return compose(config_name="config", overrides=overrides or [])


@pytest.fixture
def statements() -> pd.DataFrame:
    return pd.read_csv(FIXTURE_CSV)


@pytest.fixture
def fixture_csv(tmp_path) -> Path:
    """A private copy of the fixture, so a test may change it."""
    return Path(shutil.copy(FIXTURE_CSV, tmp_path / "statements.csv"))


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


# --- A reproduced copy of the repository, for the end-to-end and serving tests ---

# What a copy leaves behind: the environment, the stores and the stage outputs, by their place in the repository
# (pipeline/models/ is code, models/ an output), and caches wherever they are.
LEFT_BEHIND_PATHS = {
    ".venv",
    ".git",
    "mlflow.db",
    "mlruns",
    "outputs",
    "multirun",
    "data/processed",
    "models",
    "reports",
    ".dvc/cache",
    ".dvc/tmp",
}
LEFT_BEHIND_ANYWHERE = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info", "parts", "tmp"
)


def LEFT_BEHIND(folder: str, names: list[str]) -> set[str]:  # noqa: N802  shutil.copytree's `ignore`
    place = Path(folder).resolve().relative_to(REPO.resolve())
    by_place = {name for name in names if (place / name).as_posix() in LEFT_BEHIND_PATHS}
    return by_place | set(LEFT_BEHIND_ANYWHERE(folder, names))


def attempt(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `command` as a user would in `cwd`: this environment's executables first, no MLFLOW_TRACKING_URI."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`attempt`, which must succeed."""
    result = attempt(command, cwd, env)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def reproduced_copy(copy: Path) -> Path:
    """A fresh copy of the repository at `copy`, committed, with the pipeline reproduced once as `make run` does.

    Like a fresh clone, it holds the committed reports (and no stage output DVC caches), so DVC finds evaluate's
    outputs up to date with the rebuilt model; `make run`'s follow-up (pipeline.evaluated) must then evaluate it.
    """
    shutil.copytree(REPO, copy, ignore=LEFT_BEHIND)
    committed_reports = run(["git", "ls-files", "reports"], REPO).stdout.split()
    for name in committed_reports:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)
    run(["git", "init", "-q"], copy)
    run(["git", "add", "-A"], copy)
    run(["git", "commit", "-q", "-m", "copy"], copy)
    run([sys.executable, "-m", "pipeline.compose_params"], copy)
    run(["dvc", "repro"], copy)
    run([sys.executable, "-m", "pipeline.evaluated"], copy)
    return copy


def stance_predict(capsys, *args: str, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """Run stance-predict in this process, quietly: (exit code, stdout, stderr)."""
    import io

    from pipeline import predict

    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    try:
        code = predict.main([*args, "--quiet"])
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *expected: str) -> str:
    """A user mistake ends in exit code 2 and one `error: ...` line holding each of `expected`; returns the line."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    return lines[0]
