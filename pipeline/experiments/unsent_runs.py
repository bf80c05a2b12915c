"""A run that could not reach the tracking server, kept on disk until `python -m pipeline.sync <folder>` uploads it.

The folder holds `run.json` (experiment, run name, tags, parent run, what failed, and the logging calls in
order) and the files those calls refer to: the model as skops, datasets and tables as Parquet, artifacts as files.
"""

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.errors import UserInputError
from pipeline.files import read_json, write_json
from pipeline.models.skops_import import import_skops

RECORD_FILE = "run.json"
SYNCED_FILE = "synced.json"
DEFAULT_FOLDER = "unsent_runs"


@dataclass
class UnsentRun:
    tracking_uri: str
    experiment: str
    run_name: str
    tags: dict[str, str]
    description: str | None = None
    parent_run_id: str | None = None
    # The run the server had created before it failed (left unfinished there); sync marks it FAILED.
    partial_run_id: str | None = None
    failure: str | None = None
    # When the run's work began and when it was kept (seconds since the epoch): the uploaded run's start and end, so
    # that its Duration is the training's, not the upload's. None in folders kept by earlier versions.
    started_at: float | None = None
    ended_at: float | None = None
    # Logging calls in order: {"call": "log_params", ...}; objects are replaced by file names on saving.
    calls: list[dict] = field(default_factory=list)


def save(run: UnsentRun, root: str | Path) -> Path:
    """Write the run into a new folder under `root`, complete or not at all; returns the folder."""
    Path(root).mkdir(parents=True, exist_ok=True)
    if run.ended_at is None:
        run.ended_at = time.time()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.run_name).strip("-")[:60]
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".unsent-"))
    calls = []
    for index, call in enumerate(run.calls):
        calls.append(_save_objects(call, staging, index))
    write_json(staging / RECORD_FILE, {**asdict(run), "calls": calls})
    folder = Path(root) / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{slug}"
    staging.chmod(0o755)
    staging.rename(folder)
    return folder


def _save_objects(call: dict, folder: Path, index: int) -> dict:
    saved = dict(call)
    if "frame" in call:
        saved["frame"] = f"frame-{index}.parquet"
        call["frame"].to_parquet(folder / saved["frame"])
    if "model" in call:
        saved["model"] = f"model-{index}.skops"
        import_skops().dump(call["model"], folder / saved["model"])
    if "figure" in call:
        saved["figure"] = f"figure-{index}.png"
        call["figure"].savefig(folder / saved["figure"], format="png")
    return saved


def load(folder: str | Path) -> tuple[UnsentRun, Path]:
    """The run kept in `folder`; data files are loaded, the model stays a path (loading it runs skops)."""
    folder = Path(folder)
    record_path = folder / RECORD_FILE
    if not record_path.is_file():
        raise UserInputError(f"{folder}: not a kept run (no {RECORD_FILE}); expected a folder under {DEFAULT_FOLDER}/")
    if (folder / SYNCED_FILE).is_file():
        synced = read_json(folder / SYNCED_FILE)
        raise UserInputError(f"{folder}: already uploaded as run {synced['run_id']} to {synced['tracking_uri']}")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        run = UnsentRun(**record)
    except (ValueError, TypeError) as error:
        raise UserInputError(f"{record_path}: not a readable kept run ({error})") from None
    for call in run.calls:
        if "frame" in call:
            call["frame"] = pd.read_parquet(folder / call["frame"])
    return run, folder


def mark_synced(folder: Path, run_id: str, tracking_uri: str) -> None:
    write_json(folder / SYNCED_FILE, {"run_id": run_id, "tracking_uri": tracking_uri})
