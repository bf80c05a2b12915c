"""Ctrl-C that lands where Python cannot raise it (a finalizer) prints no traceback; other such errors still do."""

import subprocess
import sys

from conftest import REPO

FINALIZER_RAISES = """
import weakref
import pipeline.errors  # what every command imports first

class Thing:
    pass

def callback(_):
    raise {error}

thing = Thing()
reference = weakref.ref(thing, callback)
del thing
print("went on")
"""


def run_finalizer(error: str) -> subprocess.CompletedProcess:
    code = FINALIZER_RAISES.format(error=error)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_ctrl_c_in_a_finalizer_prints_no_traceback():
    result = run_finalizer("KeyboardInterrupt")
    assert result.returncode == 0 and result.stdout == "went on\n"
    assert result.stderr == ""


def test_other_errors_in_a_finalizer_are_still_printed():
    result = run_finalizer("ValueError('a bug')")
    assert result.stdout == "went on\n"
    assert "Exception ignored in" in result.stderr and "ValueError: a bug" in result.stderr
