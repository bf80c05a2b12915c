"""Serve a model over HTTP with `mlflow models serve`, after the safety checks stance-predict makes (`make serve`).

MLflow's server loads a model with MLflow's own loader: it trusts the types the model's MLmodel file declares, puts
the model's `code/` folder on `sys.path` and unpickles pickle models. A model file from someone else could so run
its author's code the moment it is served. This command first loads the model as stance-predict does, with the
project's own trusted types only; a model refused there is not served, unless --trust-model says its author is
trusted. The server then runs in this process (exec), so stopping this process stops the server. A model with a
sentence encoder loads it as the server starts, not on the first request (see encoder.loads_with_model).

    python -m pipeline.serve models:/stance-classifier@champion --port 5001

Without a model, the champion of the data set prepared in this folder is served, as stance-predict tags with it.
"""

import argparse
import errno
import os
import sys
from pathlib import Path

from pipeline.errors import UserInputError, exit_with_user_error
from pipeline.features import encoder
from pipeline.inference import check_holds_prepared_data, load_model, prepared_champion
from pipeline.models.model_requirements import extra_requirements
from pipeline.ports import bind_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "model",
        nargs="?",
        help="a model URI (models:/name@alias, runs:/...) or an MLflow model folder; default: the champion of the "
        "data set prepared in this folder (data/processed), else models:/stance-classifier@champion",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--tracking-uri", help="the MLflow store; default MLFLOW_TRACKING_URI or sqlite:///mlflow.db")
    parser.add_argument(
        "--trust-model",
        action="store_true",
        help="serve a model the project's loader refuses: this runs code from the model's author",
    )
    return parser.parse_args(argv)


def serve_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        *("-m", "mlflow", "models", "serve", "-m", args.model, "--env-manager", "local"),
        *("-h", args.host, "-p", str(args.port)),
    ]


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another server holds now, before the model loads: uvicorn would find out after it, and end in
    MLflow's traceback. (A port this user may not open, below 1024, is left to uvicorn's own message.)"""
    error = bind_error(host, port)
    if error is not None and error.errno == errno.EADDRINUSE:
        raise UserInputError(
            f"--port {port}: {host}:{port} is already in use, by another server; choose a free port "
            f"(make serve PORT={port + 1}, or --port {port + 1})"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    by_default = args.model is None
    if by_default:
        args.model = prepared_champion()
        print(f"serving {args.model} (the champion of the data set prepared here)", file=sys.stderr)
    from pipeline import tracking

    store = tracking.resolve_tracking_uri(args.tracking_uri)
    try:
        check_port_free(args.host, args.port)
        tagger = load_model(args.model, store, trust_model=args.trust_model)
        if extra_requirements(tagger.classifier):
            encoder.require_extra()  # the server loads the encoder with the model: say so here, not in uvicorn
        if by_default:
            check_holds_prepared_data(args.model)
    except UserInputError as error:
        exit_with_user_error(f"{error} (not served)")
    # MLflow's server starts uvicorn from PATH: this environment's, first.
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        encoder.LOAD_WITH_MODEL_ENV: "1",
    }
    sys.stdout.flush()
    os.execve(sys.executable, serve_command(args), env)


if __name__ == "__main__":
    main()
