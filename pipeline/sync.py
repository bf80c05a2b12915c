"""Upload a run kept on disk after the tracking server failed: `python -m pipeline.sync unsent_runs/<folder>`.

The run is logged as new (same name, tags, params, metrics, datasets and model) to the server it was meant for, or
to --tracking-uri; credentials come from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
"""

import argparse
import logging
from pathlib import Path

from omegaconf import OmegaConf

from pipeline import tracking
from pipeline.errors import UserInputError, exit_with_user_error
from pipeline.experiments import unsent_runs
from pipeline.inference import load_skops

# The `mlflow` config group's defaults: the same short check and bounded retries as the pipeline's stages.
CONNECTION = {"preflight_timeout": 5, "http_max_retries": 2, "http_timeout": 20, "http_backoff_factor": 1}


def sync(folder: Path, tracking_uri: str | None = None) -> str:
    run, folder = unsent_runs.load(folder)
    uri = tracking_uri or run.tracking_uri
    tracking.ensure_reachable(OmegaConf.create({**CONNECTION, "tracking_uri": uri}))
    try:
        run_id = tracking.upload_unsent_run(run, folder, load_skops)
    except tracking.SERVER_ERRORS as error:
        raise tracking.TrackingServerUnavailable(
            f"MLflow tracking server {tracking.redact(uri)} failed during the upload of {folder}: "
            f"{tracking.describe_failure(error)}; nothing was marked uploaded: run the same command again once "
            "the server answers, or upload to another with --tracking-uri"
        ) from None
    unsent_runs.mark_synced(folder, run_id, uri)
    return run_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.sync", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="kept run folders (under unsent_runs/)")
    parser.add_argument("--tracking-uri", help="upload here instead of the server the run was meant for")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        for folder in args.folders:
            run_id = sync(folder, args.tracking_uri)
            print(f"{folder}: uploaded as run {run_id}")
    except UserInputError as error:
        exit_with_user_error(error)


if __name__ == "__main__":
    main()
