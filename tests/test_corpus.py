"""The shipped corpus keeps the promises made in docs/labelling.md: size, balance, breadth and no templates."""

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.data.validation import StatementColumns, validate_statements

CORPUS = REPO / "data" / "raw" / "statements.csv"
SEED_QUOTES = REPO / "data" / "seed_quotes.csv"
LABELS = ["pro-intervention", "anti-intervention", "neutral"]
COLUMNS = ["id", "text", "label", "speaker", "speaker_role", "source", "conflict", "year", "form", "hard_case"]
TOKEN = r"[a-z0-9']+"


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return pd.read_csv(CORPUS, keep_default_na=False)


def token_sets(texts: pd.Series):
    """One binary row of tokens per text, for pairwise Jaccard similarity with two sparse products."""
    return CountVectorizer(token_pattern=TOKEN, binary=True, lowercase=True).fit_transform(texts)


def max_jaccard_between(left, right, same: bool) -> np.ndarray:
    intersection = (left @ right.T).toarray().astype(float)
    sizes_left, sizes_right = np.asarray(left.sum(axis=1)).ravel(), np.asarray(right.sum(axis=1)).ravel()
    union = sizes_left[:, None] + sizes_right[None, :] - intersection
    jaccard = intersection / np.maximum(union, 1)
    if same:
        np.fill_diagonal(jaccard, 0.0)
    return jaccard


def test_columns_size_and_lengths(corpus):
    assert list(corpus.columns) == COLUMNS
    assert len(corpus) >= 1500
    assert corpus["id"].is_unique
    words = corpus["text"].str.split().str.len()
    assert words.between(8, 60).all(), corpus.loc[~words.between(8, 60), "id"].tolist()


def test_every_label_is_between_28_and_40_percent(corpus):
    shares = corpus["label"].value_counts(normalize=True)
    assert set(shares.index) == set(LABELS)
    assert shares.between(0.28, 0.40).all(), shares.to_dict()


def test_breadth_of_conflicts_speakers_roles_and_forms(corpus):
    assert corpus["conflict"].nunique() >= 15
    assert corpus["speaker"].nunique() >= 300
    assert corpus["speaker_role"].nunique() >= 10
    assert corpus["form"].nunique() >= 6
    assert corpus["year"].astype(int).between(1960, 2035).all()
    # The split keeps a source whole, so a source must report on one conflict and hold several statements.
    per_source = corpus.groupby("source").agg(conflicts=("conflict", "nunique"), rows=("id", "size"))
    assert (per_source["conflicts"] == 1).all()
    assert per_source["rows"].median() >= 3


def test_no_templates_distinct_openings(corpus):
    openings = corpus["text"].str.lower().str.split().str[:4].str.join(" ")
    assert openings.nunique() / len(corpus) >= 0.80


def test_no_two_statements_share_more_than_80_percent_of_their_words(corpus):
    tokens = token_sets(corpus["text"])
    jaccard = max_jaccard_between(tokens, tokens, same=True)
    first, second = np.nonzero(np.triu(jaccard > 0.8))
    pairs = [(corpus["id"][a], corpus["id"][b]) for a, b in zip(first, second, strict=True)]
    assert not pairs, pairs[:10]


def test_at_least_a_quarter_of_each_class_are_hard_cases(corpus):
    hard_share = corpus.assign(hard=corpus["hard_case"] != "").groupby("label")["hard"].mean()
    assert (hard_share >= 0.25).all(), hard_share.to_dict()
    # Not only one kind of difficulty: several hard-case kinds within each class.
    kinds = corpus[corpus["hard_case"] != ""].groupby("label")["hard_case"].nunique()
    assert (kinds >= 4).all(), kinds.to_dict()


def test_the_pipeline_accepts_the_corpus_without_dropping_rows(corpus):
    columns = StatementColumns(text="text", label="label", id="id", group="source")
    assert len(validate_statements(corpus, columns, LABELS, str(CORPUS))) == len(corpus)


def test_founding_article_quotes_stay_out_of_the_corpus(corpus):
    seeds = pd.read_csv(SEED_QUOTES, keep_default_na=False)
    assert list(seeds.columns) == ["quote", "speaker", "label"]
    assert set(seeds["label"]) <= set(LABELS)
    vectorizer = CountVectorizer(token_pattern=TOKEN, binary=True).fit(pd.concat([corpus["text"], seeds["quote"]]))
    similarity = max_jaccard_between(
        vectorizer.transform(seeds["quote"]), vectorizer.transform(corpus["text"]), same=False
    )
    assert similarity.max() < 0.5
