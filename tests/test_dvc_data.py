"""Users' own data versioned with DVC: `dvc add`, push to a remote, and pull it back on a fresh checkout."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURE_CSV

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_added_data_round_trips_through_a_local_remote(tmp_path):
    project, remote = tmp_path / "project", tmp_path / "remote"
    project.mkdir()
    run(["git", "init", "-q"], project)
    run(["dvc", "init", "-q"], project)
    run(["dvc", "config", "core.analytics", "false"], project)
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], project)
    data = project / "data" / "raw" / "my_statements.csv"
    data.parent.mkdir(parents=True)
    shutil.copy(FIXTURE_CSV, data)
    run(["dvc", "add", "data/raw/my_statements.csv"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "my statements"], project)
    run(["dvc", "push"], project)
    assert any(path.is_file() for path in remote.rglob("*"))

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    restored = clone / "data" / "raw" / "my_statements.csv"
    assert not restored.exists()
    run(["dvc", "pull"], clone)
    assert digest(restored) == digest(FIXTURE_CSV)
