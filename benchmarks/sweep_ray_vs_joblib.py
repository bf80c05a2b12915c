"""Wall time of the 12-run grid (4 models x 3 feature sets) with the joblib launcher and on a local Ray cluster.

    .venv/bin/python benchmarks/sweep_ray_vs_joblib.py [--repeats 2] [--cpus 2]

Run from the repository after `make run` (the sweep reads data/processed). Each sweep logs to a fresh SQLite store
in a temporary folder. The Ray cluster (`ray start --head --block` on 127.0.0.1) is started once, before the timed
sweeps, and stopped at the end; its start-up time is reported apart.
"""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = ["model=logreg,linear_svm,complement_nb,sgd", "features=word,char,word_char"]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed_sweep(launcher: list[str], env: dict, folder: Path) -> float:
    command = [
        sys.executable, "-m", "pipeline.train", "--multirun", *GRID, *launcher,
        f"mlflow.tracking_uri=sqlite:///{folder / 'mlflow.db'}", "mlflow.experiment=grid-benchmark",
        f"hydra.sweep.dir={folder / 'multirun'}",
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"sweep failed:\n{result.stderr[-3000:]}")
    return elapsed


@contextlib.contextmanager
def ray_cluster(cpus: int, temp: Path):
    port = free_port()
    command = [
        str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
        f"--num-cpus={cpus}", "--object-store-memory=100000000", "--include-dashboard=false",
        "--disable-usage-stats", f"--temp-dir={temp}", f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
    ]  # fmt: skip
    log = temp / "ray.log"
    started = time.monotonic()
    with log.open("w") as output:
        head = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None:
                sys.exit(f"ray start failed:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        print(f"ray start --head: {time.monotonic() - started:.1f} s")
        yield f"127.0.0.1:{port}"
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                head.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--launchers", default="joblib,ray", help="which launchers to time")
    args = parser.parse_args()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="grid-") as temp:
        temp = Path(temp)
        for repeat in range(args.repeats if "joblib" in args.launchers else 0):
            seconds = timed_sweep([f"hydra.launcher.n_jobs={args.cpus}"], env, temp / f"joblib-{repeat}")
            print(f"joblib, n_jobs={args.cpus}: {seconds:.1f} s")
        if "ray" not in args.launchers:
            return
        (temp / "ray").mkdir()
        with ray_cluster(args.cpus, temp / "ray") as address:
            for repeat in range(args.repeats):
                ray_env = {**env, "RAY_ADDRESS": address}
                seconds = timed_sweep(["hydra/launcher=ray_cluster"], ray_env, temp / f"ray-{repeat}")
                print(f"ray_cluster, {args.cpus} CPUs: {seconds:.1f} s")


if __name__ == "__main__":
    main()
