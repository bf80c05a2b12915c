"""Writing outputs atomically, so that a failed or interrupted stage never leaves a half-written file."""

import errno
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import UserInputError

# Write errors that are the user's to fix (free space, a writable place), not the program's.
FULL_OR_READ_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit(143) for the duration, so that `finally` blocks run on `kill` as on Ctrl-C.

    Only where SIGTERM still has its default action (which ends the process without any cleanup) and only in the
    main thread, the one place Python can install a handler.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def exit_on_terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    The temporary file is removed on every other way out: an exception, Ctrl-C, or SIGTERM (see terminate_as_exit).
    Only SIGKILL and power loss can leave one behind, named `.<name>.<random>.tmp`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with terminate_as_exit():
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.close(handle)
            # mkstemp creates files readable by their owner only; give the output the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            yield Path(temporary)
            os.replace(temporary, target)
        except OSError as error:
            if error.errno not in FULL_OR_READ_ONLY:
                raise
            raise UserInputError(
                f"{target}: could not be written ({os.strerror(error.errno)}); nothing was written there and an "
                "earlier file of that name is unchanged. Free some space, or write elsewhere"
            ) from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Do two paths name one file: the same path after symlinks and `..`, or two hard links to one inode."""
    if Path(first).resolve() == Path(second).resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet)
        return False


def write_json(path: str | os.PathLike, payload) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sqlite_database_path(tracking_uri: str) -> Path | None:
    """The database file of a local `sqlite:///` MLflow store; None for other stores and in-memory databases."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    location = tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if location in ("", ":memory:") else Path(location)
