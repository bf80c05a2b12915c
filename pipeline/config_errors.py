"""Hydra's errors about the command line (an unknown config option, key or override syntax) as one `error:` line.

Hydra prints them over several lines: the options of a group one per line, its config search path (where Hydra
looked, not what the user got wrong) and a hint about HYDRA_FULL_ERROR, then exits 1. A mistyped override is a user
mistake like any other, so the stages report it the way they report bad data: one line and exit code 2.
"""

import functools
import os
import sys

from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig
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
        return f"{message} ({cause}){nested_key_hint(error.__cause__)}"
    return message


def nested_key_hint(cause: OmegaConfBaseException) -> str:
    """Where a key that is not at the overridden place is found further down, as for a wrapped estimator:
    `model.estimator.C` of model=linear_svm is `model.estimator.estimator.C` (its LinearSVC inside the calibrator).
    Hydra's own advice, to append the key with +, would hand the wrapper a parameter it does not take."""
    parent, key, full_key = cause.parent_node, cause.key, cause.full_key
    if not isinstance(parent, DictConfig) or not isinstance(key, str) or not full_key:
        return ""
    prefix = str(full_key)[: -len(key)]
    try:
        found = [prefix + path for path in nested_paths(parent, key)]
    except OmegaConfBaseException:  # a hint only: the error itself is reported either way
        return ""
    found = [path for path in found if not path.startswith("hydra.")]  # Hydra's own settings are not the user's
    if not found:
        return ""
    shown = " and at ".join(found[:3]) + (f" (and {len(found) - 3} more places)" if len(found) > 3 else "")
    return f"; {key} is set at {shown}: override that instead"


def nested_paths(node: DictConfig, key: str, prefix: str = "") -> list[str]:
    """The dotted paths, below `node`, of the keys named `key` (interpolations are left unresolved)."""
    paths = []
    for name in node:
        child = node._get_node(name)  # the node itself: no interpolation resolved, no error for a missing value
        if isinstance(child, DictConfig):
            if key in child.keys():  # noqa: SIM118  (`in` would resolve interpolations, which may fail here)
                paths.append(f"{prefix}{name}.{key}")
            paths += nested_paths(child, key, f"{prefix}{name}.")
    return paths


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
