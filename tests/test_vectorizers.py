"""The vectorised `char_wb` and word counting give scikit-learn's vocabulary, indices and TF-IDF values exactly."""

import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import FIXTURE_CSV, REPO
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.features.vectorizers import CompactTfidfVectorizer

CORPUS_CSV = REPO / "data" / "raw" / "statements.csv"
DEFAULT_CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5), "min_df": 2, "max_features": 100000, "sublinear_tf": True}
DEFAULT_WORD = {"ngram_range": (1, 2), "max_features": 50000, "strip_accents": "unicode", "sublinear_tf": True}
AWKWARD = [
    "",
    "   \t\n ",
    "a",
    "I  am\tTHE\u00a0one, n'est-ce pas?",
    "Ünïcödé ÆØÅ — “quoted” … 北京 🚀🚀 x",
    "x y z xy yz",
    "ſtraße İstanbul ΣΑΣ",  # characters whose lower case changes length or form
]


def canonical(matrix):
    matrix = matrix.copy()
    matrix.sort_indices()  # scikit-learn's fit_transform leaves each row's terms in first-seen order
    return matrix


def same_output(reference: TfidfVectorizer, fast: CompactTfidfVectorizer, fitted_on: list[str], unseen: list[str]):
    expected_train = canonical(reference.fit_transform(fitted_on))
    actual_train = canonical(fast.fit_transform(fitted_on))
    assert fast.vocabulary_ == reference.vocabulary_
    if reference.use_idf:
        np.testing.assert_array_equal(fast.idf_, reference.idf_)
    expected_unseen, actual_unseen = reference.transform(unseen), fast.transform(unseen)
    assert actual_unseen.has_sorted_indices
    for expected, actual in [(expected_train, actual_train), (expected_unseen, actual_unseen)]:
        assert expected.shape == actual.shape
        np.testing.assert_array_equal(actual.indptr, expected.indptr)
        np.testing.assert_array_equal(actual.indices, expected.indices)
    # transform: bit for bit. fit_transform: each row's terms are normalised in another order, so the last
    # bit of a value may differ (about 1e-16).
    np.testing.assert_array_equal(actual_unseen.data, expected_unseen.data)
    np.testing.assert_allclose(actual_train.data, expected_train.data, rtol=1e-14, atol=0)


@pytest.mark.parametrize("settings", [DEFAULT_CHAR, DEFAULT_WORD], ids=["char", "word"])
@pytest.mark.parametrize("csv", [FIXTURE_CSV, CORPUS_CSV], ids=["fixture", "corpus"])
def test_default_features_equal_scikit_learns(csv, settings, monkeypatch):
    fast = CompactTfidfVectorizer(**settings)
    # The vectorised counting must be what runs, not scikit-learn's loop (which builds the analyzer).
    monkeypatch.setattr(fast, "build_analyzer", lambda: pytest.fail("fell back to scikit-learn's analyzer"))
    texts = pd.read_csv(csv)["text"].tolist()
    unseen = pd.read_csv(FIXTURE_CSV if csv == CORPUS_CSV else CORPUS_CSV)["text"].tolist() + AWKWARD
    same_output(TfidfVectorizer(**settings), fast, texts, unseen)


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 1)},
        {"ngram_range": (2, 3), "min_df": 1},  # no unigrams; trigrams
        {"ngram_range": (1, 2), "stop_words": "english", "lowercase": False},
        {"ngram_range": (1, 2), "token_pattern": r"\S+", "max_df": 0.5, "max_features": 300, "binary": True},
        {"ngram_range": (1, 3), "dtype": np.float32, "norm": None, "use_idf": False},
    ],
)
def test_word_n_grams_with_other_settings_equal_scikit_learns(options, monkeypatch):
    texts = pd.read_csv(FIXTURE_CSV)["text"].tolist() + AWKWARD
    unseen = AWKWARD + ["brand new words: ж ф ы ☃ \x00 \x7f", "the the the of of"]
    fast = CompactTfidfVectorizer(**options)
    monkeypatch.setattr(fast, "build_analyzer", lambda: pytest.fail("fell back to scikit-learn's analyzer"))
    same_output(TfidfVectorizer(**options), fast, texts, unseen)


def test_a_custom_tokenizer_whose_tokens_hold_spaces_still_equals_scikit_learns():
    # "a b" as one token and as the bigram of "a" and "b" are one term, as in scikit-learn's vocabulary.
    options = {"ngram_range": (1, 2), "tokenizer": lambda text: text.split("|"), "token_pattern": None}
    texts = ["a b|x", "a|b", "a|b|a b"]
    same_output(TfidfVectorizer(**options), CompactTfidfVectorizer(**options), texts, ["a b|a|b"])


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 1)},
        {"ngram_range": (4, 6)},  # padded one-letter words (3 characters) count once, whole
        {"ngram_range": (2, 5), "lowercase": False, "strip_accents": "unicode", "binary": True},
        {"ngram_range": (3, 4), "max_df": 0.5, "min_df": 1, "max_features": 500, "sublinear_tf": False},
        {"ngram_range": (2, 3), "dtype": np.float32, "norm": None, "use_idf": False},
    ],
)
def test_other_settings_and_awkward_text_equal_scikit_learns(options):
    texts = pd.read_csv(FIXTURE_CSV)["text"].tolist() + AWKWARD
    unseen = AWKWARD + ["brand new characters: ж ф ы ☃ \x00 \x7f"]
    settings = {"analyzer": "char_wb", **options}
    same_output(TfidfVectorizer(**settings), CompactTfidfVectorizer(**settings), texts, unseen)


@pytest.mark.parametrize("texts", [["a"], ["\ufffd"], ["ab"], [" "], ["a", "b"]])
def test_a_batch_of_one_short_word_equals_scikit_learns(texts):
    """Fewer characters in the whole batch than the longest n-gram: nothing to read past the end."""
    fitted_on = pd.read_csv(FIXTURE_CSV)["text"].tolist()
    same_output(TfidfVectorizer(**DEFAULT_CHAR), CompactTfidfVectorizer(**DEFAULT_CHAR), fitted_on, texts)
    fast = CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(1, 6))
    same_output(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 6)), fast, texts + ["abc"], texts)


def test_a_nul_character_falls_back_to_scikit_learns_counting():
    texts = ["null\x00byte here", "plain text", "more plain text"]
    same_output(TfidfVectorizer(analyzer="char_wb"), CompactTfidfVectorizer(analyzer="char_wb"), texts, texts)


def test_a_given_vocabulary_and_documents_that_are_not_strings_behave_as_in_scikit_learn():
    vocabulary = {" a": 0, "ab": 1, "longer than five": 2, "b ": 3}
    texts = ["ab ba", "a b", "abc"]
    same_output(
        TfidfVectorizer(analyzer="char_wb", vocabulary=vocabulary),
        CompactTfidfVectorizer(analyzer="char_wb", vocabulary=vocabulary),
        texts,
        texts,
    )
    with pytest.raises(ValueError, match="np.nan"):
        CompactTfidfVectorizer(analyzer="char_wb").fit(["text", np.nan])


def test_a_saved_and_loaded_vectorizer_gives_the_same_features(tmp_path):
    texts = pd.read_csv(FIXTURE_CSV)["text"].tolist()
    fitted = CompactTfidfVectorizer(**DEFAULT_CHAR).fit(texts)
    expected = fitted.transform(texts)
    skops.io.dump(fitted, tmp_path / "vectorizer.skops")
    for loaded in [
        skops.io.load(tmp_path / "vectorizer.skops", trusted=SKOPS_TRUSTED_TYPES),
        pickle.loads(pickle.dumps(fitted)),
    ]:
        assert loaded.vocabulary_ == fitted.vocabulary_
        assert (loaded.transform(texts) != expected).nnz == 0
