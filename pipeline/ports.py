"""Whether a server could listen on a port now: checked before starting one, to refuse a busy port in one line."""

import socket


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port now, or None when it could.

    The probe sets SO_REUSEADDR, as servers do (uvicorn, PostgreSQL, Go's net package): a port whose last connections
    linger in TIME-WAIT for a minute after its server stopped is free to them, and so free here.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None
