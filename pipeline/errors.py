"""User-facing errors: problems the user must fix, reported as a message and an exit code, never a traceback."""

import functools
import logging
import os
import sys
from typing import NoReturn

log = logging.getLogger(__name__)

# Exit code for input the user must fix (bad data, bad config values); 1 stays for unexpected failures.
USER_ERROR_EXIT_CODE = 2
# The shell's code for a command stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED_EXIT_CODE = 130


class UserInputError(Exception):
    """Input the user must fix. The message names the file, row or field and what was expected."""


class DataValidationError(UserInputError):
    """The labelled statements break one or more rules; the message lists every problem found."""


def ignore_interrupts_in_finalizers() -> None:
    """Let Ctrl-C pass silently when it lands in code Python cannot raise from (a weakref callback, a __del__).

    Python prints such an exception as "Exception ignored in ... Traceback ..." and carries on. Ctrl-C during an
    import can land in importlib's module-lock callback (seen in a sweep stopped by Ctrl-C), and the user would see
    a traceback above the "interrupted" line that the commands print. Any other exception there is still printed.
    """
    previous = sys.unraisablehook
    if getattr(previous, "ignores_interrupts", False):
        return

    def unraisable(details) -> None:
        if not isinstance(details.exc_value, KeyboardInterrupt):
            previous(details)

    unraisable.ignores_interrupts = True
    sys.unraisablehook = unraisable


# At import: every command (and each of a sweep's worker processes) imports this module before its work starts.
ignore_interrupts_in_finalizers()


def exit_with_user_error(error: Exception | str) -> NoReturn:
    """Print a user error as one line on stderr and exit with USER_ERROR_EXIT_CODE, without a traceback."""
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(USER_ERROR_EXIT_CODE) from None


def reader_stopped_early() -> int:
    """The exit code after a BrokenPipeError on standard output: the reader (`| head`) stopped early, which is not
    worth a traceback. The rest of the output goes nowhere, so that Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def log_to_files(error: Exception) -> None:
    """Keep the error in the run's log file (Hydra's <run dir>/<task>.log) but not on the console, where
    exit_with_user_error prints it once as `error: ...`."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (error,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def in_sweep_job() -> bool:
    # Only a Hydra app can be a sweep job; stance-predict is not one, and starts without importing Hydra.
    if "hydra" not in sys.modules:
        return False
    from pipeline.experiments.sweep import is_sweep_job

    return is_sweep_job()


def exit_on_user_error(task):
    """Turn a UserInputError raised by a stage into a clear message on stderr and exit code 2, and Ctrl-C into
    "interrupted" and exit code 130.

    In a Hydra sweep job a user error is raised to the sweep instead (pipeline.experiments.sweep.SweepJobError)."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except UserInputError as error:
            log_to_files(error)
            if in_sweep_job():
                from pipeline.experiments.sweep import raise_in_sweep_job

                raise_in_sweep_job(error)
            exit_with_user_error(error)
        except KeyboardInterrupt:
            # Ctrl-C is the user's choice, not a failure to show as a traceback. A sweep's launcher handles its own.
            if in_sweep_job():
                raise
            print("interrupted", file=sys.stderr)
            raise SystemExit(INTERRUPTED_EXIT_CODE) from None

    return wrapper
