"""A TfidfVectorizer that saves quickly and compactly in the skops format, and counts `char_wb` n-grams fast.

skops writes a fitted vocabulary (a dict of tens of thousands of terms) as one JSON node per entry:
about 40 s and 37 MB for the default word + character features. Stored as two arrays instead, the same
vocabulary takes a fraction of a second and about a megabyte.

scikit-learn's `char_wb` analyzer is pure Python (one string and one dict lookup per n-gram); for that
analyzer the counting runs vectorised in `pipeline.char_ngrams` instead, with the same vocabulary, indices
and counts. Everything else is TfidfVectorizer's.
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.char_ngrams import (
    CharIds,
    KeyIndex,
    PaddedWords,
    count_matrix,
    keys_of_terms,
    ngram_keys,
    stack_rows,
    terms_of_keys,
)

# Statements per vectorised batch: large enough to amortise NumPy's per-call cost, small enough that the
# batch's n-gram arrays (about 10 kB per statement) stay small.
BATCH_SIZE = 5_000


class CompactTfidfVectorizer(TfidfVectorizer):
    def __getstate__(self):
        # A copy: on Python 3.11+ the inherited __getstate__ can return the live __dict__.
        state = dict(super().__getstate__())
        vocabulary = state.pop("vocabulary_", None)
        # `stop_words_` only lists the terms cut by min_df / max_df / max_features: introspection, not needed.
        state.pop("stop_words_", None)
        # Derived from the vocabulary when first needed; never saved.
        state.pop("_char_index", None)
        if vocabulary is not None:
            state["vocabulary_terms_"] = np.array(list(vocabulary), dtype=str)
            state["vocabulary_indices_"] = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        return state

    def __setstate__(self, state):
        terms, indices = state.pop("vocabulary_terms_", None), state.pop("vocabulary_indices_", None)
        if terms is not None:
            state["vocabulary_"] = dict(zip(terms.tolist(), indices.tolist(), strict=True))
        super().__setstate__(state)

    def _vectorised_counting_applies(self, documents) -> bool:
        return (
            self.analyzer == "char_wb"
            and self.input == "content"
            and isinstance(documents, list | tuple | np.ndarray)
            and all(isinstance(document, str) for document in documents)
        )

    def _count_vocab(self, raw_documents, fixed_vocab):
        documents = raw_documents if isinstance(raw_documents, list | tuple | np.ndarray) else list(raw_documents)
        if self._vectorised_counting_applies(documents):
            counted = self._count_char_wb(documents, fixed_vocab)
            if counted is not None:
                return counted
        return super()._count_vocab(documents, fixed_vocab)

    def _count_char_wb(self, documents, fixed_vocab):
        """CountVectorizer._count_vocab for char_wb; None when a rare case needs scikit-learn's own loop."""
        min_n, max_n = self.ngram_range
        preprocess = self.build_preprocessor()
        batches = [
            PaddedWords.from_documents(documents[start : start + BATCH_SIZE], preprocess)
            for start in range(0, len(documents), BATCH_SIZE)
        ]
        if fixed_vocab:
            index = self._char_ngram_index(max_n)
            if index is None:
                return None
            char_ids, key_index = index
            n_features = len(self.vocabulary_)
        else:
            present = np.zeros(0x110000, dtype=bool)
            for batch in batches:
                present[batch.alphabet()] = True
            char_ids = CharIds(np.flatnonzero(present).astype(np.uint32))
            # A NUL character cannot round-trip through NumPy's fixed-width strings.
            if not char_ids.fits(max_n) or (len(char_ids.alphabet) and char_ids.alphabet[0] == 0):
                return None
        occurrences = [ngram_keys(batch, char_ids, min_n, max_n) for batch in batches]
        if not fixed_vocab:
            sorted_keys = np.unique(np.concatenate([np.unique(keys) for _, keys in occurrences]))
            if len(sorted_keys) == 0:
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
            n_features = len(sorted_keys)
            key_index = KeyIndex(sorted_keys, np.arange(n_features))
        matrices = []
        for batch, (rows, keys) in zip(batches, occurrences, strict=True):
            columns = key_index.lookup(keys)
            known = columns >= 0
            matrices.append(
                count_matrix(rows[known], columns[known], len(batch.words_per_document), n_features, self.dtype)
            )
        counts = stack_rows(matrices, n_features, self.dtype)
        if fixed_vocab:
            return self.vocabulary_, counts
        # Keys sort as the terms do, so column i is the i-th term in sorted order, as after _sort_features.
        vocabulary = dict(zip(terms_of_keys(sorted_keys, char_ids, max_n), range(n_features), strict=True))
        return vocabulary, counts

    def _char_ngram_index(self, max_n: int):
        """(char ids, sorted vocabulary keys, their columns) for the fitted vocabulary; cached; None if unusable."""
        cached = getattr(self, "_char_index", None)
        if cached is not None and cached[0] is self.vocabulary_:
            return cached[1]
        terms = list(self.vocabulary_)
        alphabet = np.unique(np.frombuffer("".join(terms).encode("utf-32-le"), dtype=np.uint32))
        char_ids = CharIds(alphabet)
        index = None
        if char_ids.fits(max_n) and not (len(alphabet) and alphabet[0] == 0):
            keys = keys_of_terms(terms, char_ids, max_n)
            columns = np.fromiter(self.vocabulary_.values(), dtype=np.int64, count=len(terms))
            index = (char_ids, KeyIndex(keys, columns))
        self._char_index = (self.vocabulary_, index)
        return index
