"""`make team-up` / `team-down` mistakes that need no server: a port in use, a folder with no stack."""

import socket

import pytest
from local_server import free_port

from pipeline import team_stack
from pipeline.errors import UserInputError


def test_a_port_in_use_is_named_with_its_option_before_anything_starts(tmp_path):
    with socket.create_server((team_stack.HOST, 0)) as taken:
        busy = taken.getsockname()[1]
        ports = team_stack.Ports(mlflow=free_port(), postgres=busy, s3=free_port())
        with pytest.raises(UserInputError, match=rf"port\(s\) {busy} \(PostgreSQL, --postgres-port\) .* in use"):
            team_stack.up(tmp_path / "stack", ports)
    assert not (tmp_path / "stack").exists()  # nothing half-made to clean up


def test_team_down_in_a_folder_without_a_stack_says_so(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        team_stack.main(["down", "--dir", str(tmp_path / "not-a-stack")])
    assert exit_info.value.code == 2
    assert "no team stack was started there" in capsys.readouterr().err
