"""scikit-learn's word n-gram counting, with each distinct n-gram made and looked up once per batch.

scikit-learn joins every word n-gram of every statement into a string and looks it up in the vocabulary, one
Python dict operation per occurrence. Here the tokens of a batch are numbered once, an n-gram is the integer
made of its tokens' numbers, and only the batch's distinct n-grams become strings: the counting per statement
is NumPy. The n-grams, their order within a statement and their counts are those of `_word_ngrams`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from pipeline.features.char_ngrams import numbered

MAX_KEY = np.iinfo(np.int64).max


def word_analyzer_parts(vectorizer) -> tuple:
    """A word vectorizer's own (preprocessor, tokenizer, stop words, n-gram range), checked as its
    `build_analyzer` checks them: the arguments of `word_ngram_occurrences` after the documents."""
    preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()
    stop_words = vectorizer.get_stop_words()
    vectorizer._check_stop_words_consistency(stop_words, preprocess, tokenize)  # the warning scikit-learn gives
    return preprocess, tokenize, stop_words, vectorizer.ngram_range


@dataclass
class TermOccurrences:
    """Every n-gram occurrence of a batch: its statement (`rows`) and which of the batch's distinct `terms` it is."""

    terms: list[str]
    rows: np.ndarray  # int64, the statement of each occurrence
    term_ids: np.ndarray  # int64, index into `terms` of each occurrence
    n_documents: int


def word_ngram_occurrences(
    documents: Sequence[str],
    preprocess: Callable[[str], str],
    tokenize: Callable[[str], list[str]],
    stop_words: frozenset | set | list | None,
    ngram_range: tuple[int, int],
) -> TermOccurrences | None:
    """The word n-grams of `documents` as `_word_ngrams` makes them; None if the keys would not fit in 64 bits."""
    token_lists = [tokenize(preprocess(document)) for document in documents]
    if stop_words is not None:
        token_lists = [[token for token in tokens if token not in stop_words] for tokens in token_lists]
    tokens = list(chain.from_iterable(token_lists))
    distinct, token_ids = numbered(tokens)
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    min_n, max_n = ngram_range
    base = max(len(distinct), 1)
    if max_n > 1 and base ** (max_n - 1) > MAX_KEY // base:
        return None

    document_of_token = np.repeat(np.arange(len(documents)), lengths)
    first_token = np.cumsum(lengths) - lengths
    tokens_left = (first_token + lengths)[document_of_token] - np.arange(len(tokens))  # this one included

    terms: list[str] = []
    rows, term_ids = [], []
    key = np.zeros(len(tokens), dtype=np.int64)
    for n in range(1, max_n + 1):
        # The n-gram starting at token p: key = (key of its first n - 1 tokens) * base + id of token p + n - 1.
        if n > 1:
            key[: len(tokens) - n + 1] = key[: len(tokens) - n + 1] * base + token_ids[n - 1 :]
        else:
            key[:] = token_ids
        if n < min_n:
            continue
        starts = np.flatnonzero(tokens_left >= n)
        if n == 1:
            distinct_keys, inverse = np.arange(len(distinct)), token_ids[starts]
            names = distinct
        else:
            distinct_keys, inverse = np.unique(key[starts], return_inverse=True)
            digits = [(distinct_keys // base ** (n - 1 - k)) % base for k in range(n)]
            names = [
                " ".join(ngram) for ngram in zip(*(map(distinct.__getitem__, d.tolist()) for d in digits), strict=True)
            ]
        rows.append(document_of_token[starts])
        term_ids.append(inverse + len(terms))
        terms += names
    if not rows:
        return TermOccurrences([], np.zeros(0, np.int64), np.zeros(0, np.int64), len(documents))
    return TermOccurrences(terms, np.concatenate(rows), np.concatenate(term_ids), len(documents))
