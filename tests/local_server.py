"""Start a server the tests need on 127.0.0.1, wait until it answers, and stop it with all it started."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(url: str, server: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{server.args[0]} exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def stop_process_group(server: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: workers the server started share its process group and may outlive it."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=grace)


@contextlib.contextmanager
def local_server(
    command: Callable[[int], list[str]],
    cwd: Path,
    env: dict,
    ready_path: str,
    timeout: float,
    port: int | None = None,
) -> Iterator[str]:
    """Run `command(port)` in its own process group; yield its base URL once `ready_path` answers 200."""
    with started_server(command, cwd, env, ready_path, timeout, port) as (base_url, _server):
        yield base_url


@contextlib.contextmanager
def started_server(
    command: Callable[[int], list[str]],
    cwd: Path,
    env: dict,
    ready_path: str,
    timeout: float,
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """As local_server, but also yield the server's process, whose id is its process group's id."""
    port = port or free_port()
    log = cwd / f"server-{port}.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            command(port), cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_answering(base_url + ready_path, server, log, timeout)
        yield base_url, server
    finally:
        stop_process_group(server)


def served_labels(url: str, statements: list[str], timeout: float = 60) -> list[str]:
    """The labels `mlflow models serve` at `url` gives a `text` column of statements."""
    body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[text] for text in statements]}})
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())["predictions"]
