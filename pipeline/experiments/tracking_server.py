"""Reaching a tracking server: a quick check before training, and bounds on MLflow's HTTP retries.

Without them a client retries an unreachable server for minutes with growing back-off and ends in a traceback.
"""

import base64
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
# The schemes MLflow's tracking client opens itself; plugins add theirs under the "mlflow.tracking_store" entry point.
MLFLOW_SCHEMES = {"", "file", "sqlite", "http", "https", "databricks", "databricks-uc", "uc", *DEFAULT_DATABASE_PORTS}
# For the commands a user waits on (stance-predict, compare): fail in seconds when a remote store is down, rather
# than retry for minutes.
INTERACTIVE_HTTP_BOUNDS = {"http_max_retries": 1, "http_timeout": 20}
# How long those commands wait for a tracking server to answer its first request.
INTERACTIVE_TIMEOUT = 3.0


# Exception classes, by name in any library (the builtins, requests, urllib3, botocore), that mean the network or a
# server failed on the way: a connection refused, reset or timed out, a server that kept answering 5xx. Not that
# what was asked for is missing or damaged.
NETWORK_FAILURES = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "Timeout",
        "RetryError",
        "MaxRetryError",
        "NewConnectionError",
        "ProtocolError",
        "HTTPClientError",
        "EndpointConnectionError",
    }
)


class TrackingServerUnavailable(UserInputError):
    """The tracking server does not answer; the message names its URI and the cause."""


def is_network_failure(error: BaseException | None) -> bool:
    """A network failure anywhere in the error's chain: MLflow raises a plain MlflowException while handling the
    requests or botocore error it got."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if any(kind.__name__ in NETWORK_FAILURES for kind in type(error).__mro__):
            return True
        error = error.__cause__ or error.__context__
    return False


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


def is_refusal(error: BaseException) -> bool:
    """Nothing listens at the address (urllib wraps the socket's error in URLError.reason)."""
    return isinstance(getattr(error, "reason", None) or error, ConnectionRefusedError)


def check_credentials(base_url: str, timeout: float) -> None:
    """A server with authentication must accept MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or a token)."""
    request = urllib.request.Request(base_url + "/api/2.0/mlflow/experiments/search?max_results=1")
    username, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if username and password:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {encoded}")
    elif token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            who = f"user {username!r}" if username and password else "no credentials"
            raise TrackingServerUnavailable(
                f"MLflow tracking server {redact(base_url)} refused {who} (HTTP {error.code}): set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment"
            ) from None
    except (urllib.error.URLError, OSError):
        # It answered /health a moment ago; a failure here shows up, with its cause, in the first real request.
        pass


def file_store_mistake(uri: str) -> str | None:
    """What to tell a user whose tracking URI is a plain path or a file: URI; None for any other URI.

    MLflow reads those as its file store, which MLflow 3 refuses to open unless MLFLOW_ALLOW_FILE_STORE is set,
    with a message about migrating. Most often the user meant the local SQLite store and left out `sqlite:///`.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("", "file") or os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() in ("true", "1"):
        return None
    meant = f"sqlite:///{parts.path}" if parts.path.endswith(".db") else "sqlite:///mlflow.db"
    return (
        f"tracking URI {uri!r} is a path, which MLflow reads as its file store (no longer supported); "
        f"did you mean {meant}? (a local SQLite store; http://host:port for a tracking server)"
    )


def unknown_scheme(uri: str) -> str | None:
    """What to tell a user whose tracking URI has a scheme MLflow cannot open (`htp://`); None when it can.

    MLflow itself would say so only when the run registers its model, after the training."""
    scheme = urllib.parse.urlsplit(uri).scheme.split("+")[0]
    if scheme in MLFLOW_SCHEMES:
        return None
    from importlib.metadata import entry_points

    if scheme in {entry.name for entry in entry_points(group="mlflow.tracking_store")}:
        return None
    return (
        f"tracking URI {redact(uri)}: MLflow has no store for the scheme {scheme + '://'!r}; expected "
        "http(s)://host:port (a tracking server), sqlite:///mlflow.db (a local store) or a database URI such as "
        "postgresql://host:5432/mlflow"
    )


def check_answers(uri: str, timeout: float) -> None:
    """Raise TrackingServerUnavailable unless the server behind `uri` answers within `timeout` seconds.

    HTTP servers must answer MLflow's /health endpoint (open even under the basic-auth app); database URIs must
    accept a TCP connection. A SQLite store is not checked; a path (MLflow's file store) is refused as a mistake.
    """
    if mistake := file_store_mistake(uri) or unknown_scheme(uri):
        raise UserInputError(mistake)
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme in ("http", "https"):
        health = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])).rstrip("/")
        try:
            with urllib.request.urlopen(health + "/health", timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            cause, refused = f"/health answered HTTP {error.code}", False
        except (urllib.error.URLError, OSError) as error:
            cause, refused = describe(error), is_refusal(error)
        else:
            check_credentials(health, timeout)
            return
    elif parts.hostname:
        # A database store such as postgresql://host:5432/mlflow or mysql+pymysql://host/mlflow.
        port = parts.port or DEFAULT_DATABASE_PORTS.get(parts.scheme.split("+")[0], 5432)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return
        except OSError as error:
            cause, refused = describe(error), is_refusal(error)
    else:
        return
    # A refusal comes at once: naming the timeout would suggest a wait that never happened.
    waited = "" if refused else f" within {timeout:g} s"
    raise TrackingServerUnavailable(
        f"MLflow tracking server {redact(uri)} did not answer{waited}: {cause} "
        "(start it, or choose another with mlflow.tracking_uri=... / MLFLOW_TRACKING_URI)"
    )
