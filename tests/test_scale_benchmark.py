"""The scale benchmark's data: deterministic, distinct, labelled, made only of the training corpus's sentences."""

import importlib.util

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale", REPO / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_statements_are_deterministic_distinct_and_from_the_corpus(scale):
    first, again = scale.generate_statements(2_000), scale.generate_statements(2_000)
    assert first.equals(again)
    assert not first.equals(scale.generate_statements(2_000, seed=1))
    assert len(first) == 2_000
    assert first["text"].is_unique and first["id"].is_unique
    sentences = scale.corpus_sentences()
    assert set(first["label"]) == set(sentences) == {"pro-intervention", "anti-intervention", "neutral"}
    for text, label in zip(first["text"].head(300), first["label"].head(300), strict=True):
        # Every statement is whole sentences of corpus statements with its own label, joined by spaces.
        remaining = text
        while remaining:
            sentence = next(s for s in sorted(sentences[label], key=len, reverse=True) if remaining.startswith(s))
            remaining = remaining[len(sentence) :].lstrip(" ")
