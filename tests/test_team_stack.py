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


def a_port_in_time_wait() -> int:
    """A port whose server has stopped, with its last connection in TIME-WAIT (the side that closes first keeps it),
    as after `make team-down`."""
    with socket.create_server((team_stack.HOST, 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection((team_stack.HOST, port)) as client:
            accepted, _ = server.accept()
            accepted.close()
            client.recv(1)  # the server's close has reached the client
    return port


def test_a_port_left_in_time_wait_by_a_stopped_stack_counts_as_free(tmp_path):
    port = a_port_in_time_wait()
    # What the check did before, refused for about a minute:
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind((team_stack.HOST, port))
    team_stack.check_ports_free(team_stack.Ports(mlflow=port, postgres=free_port(), s3=free_port()))
