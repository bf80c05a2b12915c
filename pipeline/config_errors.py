"""Hydra's errors about the command line (an unknown config option, key or override syntax) as one `error:` line.

Hydra prints them over several lines: the options of a group one per line, its config search path (where Hydra
looked, not what the user got wrong) and a hint about HYDRA_FULL_ERROR, then exits 1. A mistyped override is a user
mistake like any other, so the stages report it the way they report bad data: one line and exit code 2.
"""

import functools
import os
import sys

from hydra.errors import HydraException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

from pipeline.errors import INTERRUPTED_EXIT_CODE, exit_with_user_error


def one_line(hydra_message: str) -> str:
    """Hydra's message on one line: its list of a group's options joined by commas, its config search path left
    out."""
    message = hydra_message.split("\nConfig search path:", 1)[0]
    head, _, options = message.partition("\n\nAvailable options in ")
    if options:
        group, _, names = options.partition(":")
        head = f"{head.strip()}; available options in {group}: {', '.join(names.split())}"
    return " ".join(head.split())


def describe(error: HydraException | OmegaConfBaseException) -> str:
    """What the user got wrong, on one line, naming the override when Hydra's message does not."""
    message = one_line(str(error))
    if isinstance(error, OverrideParseException):
        return f"the override {error.override!r} is not valid Hydra syntax: {message}"
    if isinstance(error.__cause__, OmegaConfBaseException):
        # e.g. "Could not override 'foo'. To append to your config use +foo=1" caused by "Key 'foo' is not in
        # struct" and the key's place on the following lines, which the first part says already.
        cause = str(error.__cause__).splitlines()[0]
        return f"{message} ({cause})"
    return message


def reports_config_errors(hydra_main):
    """Wrap a `@hydra.main` function so that Hydra's errors reach the user as one line and exit code 2.

    Hydra catches every exception itself unless HYDRA_FULL_ERROR is set; with it set, they come out here. A user who
    sets HYDRA_FULL_ERROR gets Hydra's own full report, as Hydra documents. A sweep job's user error
    (pipeline.experiments.sweep.SweepJobError) is a Hydra error too, and is reported the same way once the sweep's
    other jobs have run."""

    @functools.wraps(hydra_main)
    def wrapper(*args, **kwargs):
        if os.environ.get("HYDRA_FULL_ERROR"):
            return hydra_main(*args, **kwargs)
        os.environ["HYDRA_FULL_ERROR"] = "1"
        try:
            return hydra_main(*args, **kwargs)
        except (HydraException, OmegaConfBaseException) as error:
            exit_with_user_error(describe(error))
        except KeyboardInterrupt:
            # Ctrl-C in a sweep reaches the sweep's own process here, out of its launcher (a single run's stage
            # has reported it already): the jobs it started have stopped with it.
            print("interrupted", file=sys.stderr)
            raise SystemExit(INTERRUPTED_EXIT_CODE) from None
        finally:
            del os.environ["HYDRA_FULL_ERROR"]

    return wrapper
