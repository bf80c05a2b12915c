"""Reaching a tracking server: a quick check before training, and bounds on MLflow's HTTP retries.

Without them a client retries an unreachable server for minutes with growing back-off and ends in a traceback.
"""

import os
import socket
import urllib.error
import urllib.parse
import urllib.request

from pipeline.errors import UserInputError

# Each connection setting of the `mlflow` config group and the MLflow environment variable it fills.
HTTP_RETRY_SETTINGS = {
    "http_max_retries": "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "http_timeout": "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "http_backoff_factor": "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
}
DEFAULT_DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


class TrackingServerUnavailable(UserInputError):
    """The tracking server does not answer; the message names its URI and the cause."""


def redact(uri: str) -> str:
    """The URI without a password in its user-info part, fit for a log line or an error message."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def bound_http_retries(settings) -> None:
    """Set MLflow's HTTP retry bounds from the config, unless the user set them in the environment."""
    for key, variable in HTTP_RETRY_SETTINGS.items():
        value = settings.get(key)
        if value is not None:
            os.environ.setdefault(variable, str(value))


def describe(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    if isinstance(reason, BaseException):
        reason = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    return str(reason) or type(error).__name__


def check_answers(uri: str, timeout: float) -> None:
    """Raise TrackingServerUnavailable unless the server behind `uri` answers within `timeout` seconds.

    HTTP servers must answer MLflow's /health endpoint (open even under the basic-auth app); database URIs must
    accept a TCP connection. Local stores (sqlite, file) are not checked.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme in ("http", "https"):
        health = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])).rstrip("/")
        try:
            with urllib.request.urlopen(health + "/health", timeout=timeout) as response:
                response.read()
            return
        except urllib.error.HTTPError as error:
            cause = f"/health answered HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            cause = describe(error)
    elif parts.hostname:
        # A database store such as postgresql://host:5432/mlflow or mysql+pymysql://host/mlflow.
        port = parts.port or DEFAULT_DATABASE_PORTS.get(parts.scheme.split("+")[0], 5432)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return
        except OSError as error:
            cause = describe(error)
    else:
        return
    raise TrackingServerUnavailable(
        f"MLflow tracking server {redact(uri)} did not answer within {timeout:g} s: {cause} "
        "(start it, or choose another with mlflow.tracking_uri=... / MLFLOW_TRACKING_URI)"
    )
