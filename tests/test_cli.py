"""The stages as users run them: clear messages and exit code 2 for their mistakes, no half-written outputs."""

import os
import subprocess
import sys

import pytest
from conftest import FIXTURE_CSV, REPO, assert_one_line_error

from pipeline.compose_params import compose_params


def run_stage(module: str, *overrides: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", module, *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def stage_paths(tmp_path):
    return [
        f"paths.processed={tmp_path / 'processed'}",
        f"hydra.run.dir={tmp_path / 'outputs'}",
    ]


def bad_copy(tmp_path, replace: str, by: str):
    path = tmp_path / "statements.csv"
    path.write_text(FIXTURE_CSV.read_text(encoding="utf-8").replace(replace, by, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (",pro-intervention,src-1", ",supportive,src-1", "['supportive'] outside the configured set"),
        ("The coalition must keep its jets over the valley until the militias disarm.", "   ", "row 2 (id t-001)"),
        ("id,text,label,source", "id,statement,label,source", "missing column(s) ['text']"),
    ],
)
def test_bad_data_exits_2_with_the_file_and_row_and_writes_nothing(tmp_path, stage_paths, replace, by, expected):
    path = bad_copy(tmp_path, replace, by)
    result = run_stage("pipeline.prepare", f"data.path={path}", *stage_paths)
    assert result.returncode == 2
    assert str(path) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "processed").exists()


def test_a_stage_error_is_printed_once_and_kept_in_the_runs_log(tmp_path, stage_paths):
    path = bad_copy(tmp_path, ",pro-intervention,src-1", ",supportive,src-1")
    result = run_stage("pipeline.prepare", f"data.path={path}", *stage_paths)
    assert result.returncode == 2
    assert result.stderr.count("['supportive'] outside the configured set") == 1
    assert result.stderr.count("error: ") == 1
    log = (tmp_path / "outputs" / "prepare.log").read_text(encoding="utf-8")
    assert "[ERROR]" in log and "['supportive'] outside the configured set" in log


def test_undecodable_file_exits_2_naming_the_line(tmp_path, stage_paths):
    path = tmp_path / "latin1.csv"
    path.write_bytes(FIXTURE_CSV.read_bytes().replace(b"Bombing", b"Bomb\xe9ing", 1))
    result = run_stage("pipeline.prepare", f"data.path={path}", *stage_paths)
    assert result.returncode == 2 and "line 3" in result.stderr and "UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_run_keeps_the_previous_good_outputs(tmp_path, stage_paths):
    good = run_stage("pipeline.prepare", f"data.path={FIXTURE_CSV}", *stage_paths)
    assert good.returncode == 0, good.stderr
    before = {path.name: path.read_bytes() for path in (tmp_path / "processed").iterdir()}
    path = bad_copy(tmp_path, ",neutral,", ",unsure,")
    assert run_stage("pipeline.prepare", f"data.path={path}", *stage_paths).returncode == 2
    after = {path.name: path.read_bytes() for path in (tmp_path / "processed").iterdir()}
    assert after == before


def test_training_before_preparing_says_what_to_run(tmp_path, stage_paths):
    result = run_stage("pipeline.train", *stage_paths)
    assert result.returncode == 2
    assert "run the prepare stage first" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_model_lists_the_available_ones(tmp_path):
    result = run_stage("pipeline.compose_params", "model=random_forest", cwd=tmp_path)
    # One line (make run's first step): the options joined, not Hydra's list and the folders it searched.
    assert_one_line_error(
        result.returncode,
        result.stderr,
        "Could not find 'model/random_forest'; available options in 'model': complement_nb, linear_svm, logreg,",
    )
    assert not (tmp_path / "params.yaml").exists()


@pytest.mark.parametrize(
    ("module", "override", "expected"),
    [
        ("pipeline.train", "model=random_forest", "available options in 'model': complement_nb, linear_svm,"),
        ("pipeline.prepare", "split.seeds=3", "Could not override 'split.seeds'. To append to your config use +"),
        ("pipeline.evaluate", "model=logreg,sgd", "Ambiguous value for argument 'model=logreg,sgd'"),
        ("pipeline.learning_curve", "features==word", "the override 'features==word' is not valid Hydra syntax"),
    ],
)
def test_a_stage_reports_a_mistyped_override_in_one_line(tmp_path, stage_paths, module, override, expected):
    """Hydra's own report is several lines (each option of the group, the folders it searched, HYDRA_FULL_ERROR)
    and exit code 1; a typo in an override is a user mistake like bad data."""
    result = run_stage(module, override, *stage_paths, cwd=tmp_path)
    assert_one_line_error(result.returncode, result.stderr, expected)
    assert not (tmp_path / "processed").exists()


def test_a_setting_of_a_wrapped_estimator_is_pointed_to_where_it_is(tmp_path, stage_paths):
    """model=linear_svm wraps its LinearSVC in a calibrator: Hydra's advice (+model.estimator.C) would hand the
    calibrator a parameter it does not take."""
    result = run_stage("pipeline.train", "model=linear_svm", "model.estimator.C=1", *stage_paths, cwd=tmp_path)
    line = assert_one_line_error(result.returncode, result.stderr, "Could not override 'model.estimator.C'")
    assert line.endswith("C is set at model.estimator.estimator.C: override that instead")
    result = run_stage("pipeline.train", "model=logreg", "model.estimator.foo=1", *stage_paths, cwd=tmp_path)
    assert "is set at" not in assert_one_line_error(result.returncode, result.stderr, "'model.estimator.foo'")


def test_hydra_full_error_still_gives_hydras_full_report(tmp_path, stage_paths):
    env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.train", "model=random_forest", *stage_paths],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "MissingConfigException" in result.stderr


def test_a_missing_data_file_is_named_before_params_yaml_is_overwritten(tmp_path):
    """make run composes params.yaml, then DVC hashes the data file: a typo'd path must not reach DVC's own error
    (which names neither the setting nor what was expected) nor replace the last good params.yaml."""
    (tmp_path / "params.yaml").write_text("kept: true\n", encoding="utf-8")
    result = run_stage("pipeline.compose_params", "data.path=data/raw/absent.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "data.path=data/raw/absent.csv: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "params.yaml").read_text(encoding="utf-8") == "kept: true\n"


def test_the_committed_params_file_is_the_composed_default_config():
    """DVC stages read params.yaml: it must say what conf/ says, or `dvc repro` trains something else."""
    assert (REPO / "params.yaml").read_text(encoding="utf-8") == compose_params([])
