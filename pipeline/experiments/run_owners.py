"""Which MLflow runs are still alive: each run records the process that owns it, so that a run whose process died
(kill -9, power loss, a store that went away mid-sweep) can be marked FAILED the next time a stage starts.

A run is stale when it is RUNNING and either its owner process on this machine is gone, or it has been running
longer than a timeout (the only test for runs owned by another machine, or logged before owners were recorded).
Plain functions over plain values; tracking.py applies them to the store.
"""

import os
import socket
import time
from dataclasses import dataclass

HOST_TAG = "owner.host"
PID_TAG = "owner.pid"
# The owner's start time (clock ticks after boot) tells a live owner from a later process that reuses its pid.
PID_START_TAG = "owner.pid_start"
STALE_REASON_TAG = "stale_reason"
# A stage that runs two days is not one this project has: beyond it, a RUNNING run nobody here owns is dead.
DEFAULT_STALE_AFTER_HOURS = 48.0


def process_start(pid: int) -> str | None:
    """When the process started, from /proc (Linux); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming this process (or `pid`) as the owner of a run."""
    pid = os.getpid() if pid is None else pid
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    if start := process_start(pid):
        tags[PID_START_TAG] = start
    return tags


def process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    return start is None or process_start(pid) in (None, start)


@dataclass(frozen=True)
class RunState:
    run_id: str
    status: str
    start_time_ms: int
    tags: dict[str, str]


def stale_reason(run: RunState, now: float | None = None, stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS):
    """Why a RUNNING run is dead, or None when it may still be running."""
    if run.status != "RUNNING":
        return None
    host, pid = run.tags.get(HOST_TAG), run.tags.get(PID_TAG)
    if host == socket.gethostname() and pid and pid.isdigit():
        if not process_alive(int(pid), run.tags.get(PID_START_TAG)):
            return f"its process {pid} on {host} is gone"
        return None
    hours = ((now or time.time()) * 1000 - run.start_time_ms) / 3_600_000
    if hours > stale_after_hours:
        owner = f"owned by {pid} on {host}" if host else "with no recorded owner"
        return f"RUNNING for {hours:.0f} h ({owner}), longer than {stale_after_hours:g} h"
    return None
