"""A TfidfVectorizer that saves quickly and compactly in the skops format, and counts n-grams fast.

skops writes a fitted vocabulary (a dict of tens of thousands of terms) as one JSON node per entry:
about 40 s and 37 MB for the default word + character features. Stored as two arrays instead, the same
vocabulary takes a fraction of a second and about a megabyte.

scikit-learn's analyzers are pure Python (one string and one dict lookup per n-gram); for `char_wb` and `word`
n-grams the counting runs vectorised instead (`char_ngrams`, `word_ngrams`), with the same
vocabulary, indices and counts. Everything else is TfidfVectorizer's.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from pipeline.features.char_ngrams import (
    CharIds,
    DistinctWords,
    KeyIndex,
    PaddedWords,
    count_matrix,
    keys_of_terms,
    ngram_keys,
    stack_rows,
    terms_of_keys,
)
from pipeline.features.word_ngrams import word_analyzer_parts, word_ngram_occurrences

# Statements per vectorised batch: large enough to amortise NumPy's per-call cost, small enough that the
# batch's n-gram arrays (about 10 kB per statement) stay small.
BATCH_SIZE = 50000
# Word n-grams per batch: a few dozen per statement, so larger batches; bigrams repeat more across more statements.
WORD_BATCH_SIZE = 20_000


def in_threads(work, items) -> list:
    """work(item) for each item (batch start, or batch), in order, on up to one thread per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = min(len(items), cores)
    if threads <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def vectorised_counting_applies(vectorizer, documents) -> bool:
    """Whether the vectorised counting gives exactly what scikit-learn's per-n-gram loop would."""
    return (
        vectorizer.analyzer in ("char_wb", "word")
        and vectorizer.input == "content"
        and not isinstance(documents, str)
        and all(isinstance(document, str) for document in documents)
    )


class SavedWithoutMemoryAddresses:
    """A base for scikit-learn's text vectorizers: they cache id(stop_words) as `_stop_words_id`, a memory address,
    which would make equal models save differently in each process (and be registered again). Never saved."""

    def __getstate__(self):
        # A copy: on Python 3.11+ the inherited __getstate__ can return the live __dict__.
        state = dict(super().__getstate__())
        state.pop("_stop_words_id", None)
        return state


class CompactTfidfVectorizer(SavedWithoutMemoryAddresses, TfidfVectorizer):
    def __getstate__(self):
        state = super().__getstate__()
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

    def _count_vocab(self, raw_documents, fixed_vocab):
        documents = raw_documents if isinstance(raw_documents, list | tuple | np.ndarray) else list(raw_documents)
        counted = None
        if vectorised_counting_applies(self, documents):
            count = self._count_char_wb if self.analyzer == "char_wb" else self._count_words
            counted = count(documents, fixed_vocab)
        return counted if counted is not None else super()._count_vocab(documents, fixed_vocab)

    def _count_words(self, documents, fixed_vocab):
        """CountVectorizer._count_vocab for the word analyzer; None when the n-gram keys would not fit."""
        vocabulary = self.vocabulary_ if fixed_vocab else {}
        analyzer_parts = word_analyzer_parts(self)
        matrices = []
        for start in range(0, len(documents), WORD_BATCH_SIZE):
            batch = word_ngram_occurrences(documents[start : start + WORD_BATCH_SIZE], *analyzer_parts)
            if batch is None:
                return None
            if fixed_vocab:
                get = vocabulary.get
                columns_of_terms = np.fromiter((get(term, -1) for term in batch.terms), np.int64, len(batch.terms))
            else:
                # setdefault numbers a new term next; the same string from two n (a token with a space) is one term.
                add = vocabulary.setdefault
                columns_of_terms = np.fromiter(
                    (add(term, len(vocabulary)) for term in batch.terms), np.int64, len(batch.terms)
                )
            columns = columns_of_terms[batch.term_ids]
            known = columns >= 0
            matrices.append((batch.rows[known], columns[known], batch.n_documents))
        if not fixed_vocab and not vocabulary:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        n_features = len(vocabulary)
        counts = [count_matrix(rows, columns, n_rows, n_features, self.dtype) for rows, columns, n_rows in matrices]
        return vocabulary, stack_rows(counts, n_features, self.dtype)

    def _count_char_wb(self, documents, fixed_vocab):
        """CountVectorizer._count_vocab for char_wb; None when a rare case needs scikit-learn's own loop.

        Batches run on threads: most of the work is NumPy and SciPy, which release the GIL.
        """
        min_n, max_n = self.ngram_range
        preprocess = self.build_preprocessor()
        starts = range(0, len(documents), BATCH_SIZE)

        def batch(start: int) -> DistinctWords:
            return DistinctWords.from_documents(documents[start : start + BATCH_SIZE], preprocess)

        if fixed_vocab:
            index = self._char_ngram_index(max_n)
            if index is None:
                return None
            char_ids, key_index = index
            n_features = len(self.vocabulary_)

            def count(start: int):
                words = batch(start)
                rows, keys = ngram_keys(words.padded(), char_ids, min_n, max_n)
                columns = key_index.lookup(keys)
                known = columns >= 0
                per_word = count_matrix(rows[known], columns[known], len(words.words), n_features, self.dtype)
                return words.per_statement(per_word, self.dtype)

            return self.vocabulary_, stack_rows(in_threads(count, starts), n_features, self.dtype)

        batches = in_threads(batch, starts)
        present = np.zeros(0x110000, dtype=bool)
        for words in batches:
            present[words.padded().alphabet()] = True
        char_ids = CharIds(np.flatnonzero(present).astype(np.uint32))
        # A NUL character cannot round-trip through NumPy's fixed-width strings.
        if not char_ids.fits(max_n) or (len(char_ids.alphabet) and char_ids.alphabet[0] == 0):
            return None

        def count_locally(words: DistinctWords):
            """Counts over the batch's own sorted n-grams; only they and the counts are kept, not occurrences."""
            rows, keys = ngram_keys(words.padded(), char_ids, min_n, max_n)
            local_keys, columns = np.unique(keys, return_inverse=True)
            per_word = count_matrix(rows, columns, len(words.words), len(local_keys), self.dtype)
            return local_keys, words.per_statement(per_word, self.dtype)

        local = in_threads(count_locally, batches)
        sorted_keys = np.unique(np.concatenate([keys for keys, _ in local])) if local else np.zeros(0, np.int64)
        if len(sorted_keys) == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        n_features = len(sorted_keys)
        matrices = [
            # Both key lists are sorted, so the renumbered columns stay sorted within each row.
            sp.csr_array(
                (counts.data, np.searchsorted(sorted_keys, keys).astype(np.int32)[counts.indices], counts.indptr),
                shape=(counts.shape[0], n_features),
            )
            for keys, counts in local
        ]
        # Keys sort as the terms do, so column i is the i-th term in sorted order, as after _sort_features.
        vocabulary = dict(zip(terms_of_keys(sorted_keys, char_ids, max_n), range(n_features), strict=True))
        return vocabulary, stack_rows(matrices, n_features, self.dtype)

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


class FastHashingVectorizer(SavedWithoutMemoryAddresses, HashingVectorizer):
    """scikit-learn's HashingVectorizer, with `char_wb` and word n-grams counted vectorised: the same columns and
    values.

    Each batch's distinct n-grams are hashed once (MurmurHash3 of the UTF-8 text, as FeatureHasher does)
    instead of every occurrence. Stateless like its parent: nothing is learnt, nothing grows with the data.
    """

    def transform(self, X):
        documents = X if isinstance(X, list | tuple | np.ndarray) else list(X)
        if isinstance(X, str) or not vectorised_counting_applies(self, documents):
            return super().transform(X)
        self._validate_ngram_range()
        hash_batch = self._hash_char_wb if self.analyzer == "char_wb" else self._hash_words
        counts = [hash_batch(documents[start : start + BATCH_SIZE]) for start in range(0, len(documents), BATCH_SIZE)]
        if any(batch is None for batch in counts):
            return super().transform(documents)
        hashed = sp.csr_array(sp.vstack(counts, format="csr")) if counts else sp.csr_array((0, self.n_features))
        if self.binary:
            hashed.data.fill(1)
        if self.norm is not None:
            hashed = normalize(hashed, norm=self.norm, copy=False)
        return hashed

    def _hash_words(self, documents):
        """FeatureHasher.transform over the batch's word n-grams; None when their keys would not fit."""
        batch = word_ngram_occurrences(documents, *word_analyzer_parts(self))
        if batch is None:
            return None
        return self._hashed_counts(batch.rows, batch.term_ids, batch.terms, batch.n_documents)

    def _hash_char_wb(self, documents):
        """FeatureHasher.transform over the batch's char_wb n-grams; None when a NUL or a huge alphabet needs the
        loop."""
        min_n, max_n = self.ngram_range
        preprocess = self.build_preprocessor()
        # Per distinct word, then summed per statement, unless signs alternate: a +1 and a -1 meeting in one column
        # leave an explicit zero in scikit-learn's output, which the sparse product would drop.
        words = None if self.alternate_sign else DistinctWords.from_documents(documents, preprocess)
        padded = PaddedWords.from_documents(documents, preprocess) if words is None else words.padded()
        char_ids = CharIds(padded.alphabet())
        if not char_ids.fits(max_n) or (len(char_ids.alphabet) and char_ids.alphabet[0] == 0):
            return None
        rows, keys = ngram_keys(padded, char_ids, min_n, max_n)
        # np.unique's return_inverse costs an argsort; a sort plus a hash-table lookup is quicker.
        distinct = np.unique(keys)
        occurrence = KeyIndex(distinct, np.arange(len(distinct))).lookup(keys)
        terms = terms_of_keys(distinct, char_ids, max_n)
        hashed = self._hashed_counts(rows, occurrence, terms, len(padded.words_per_document))
        return hashed if words is None else words.per_statement(hashed, self.dtype)

    def _hashed_counts(self, rows: np.ndarray, term_ids: np.ndarray, terms: list[str], n_rows: int):
        """What FeatureHasher makes of rows whose features are `terms[term_ids]`."""
        hashes = np.array([murmurhash3_32(term, seed=0) for term in terms], dtype=np.int64)
        # FeatureHasher's column: abs(h) % n_features, with abs(-2**31) taken as 2**31 (see _hashing_fast.pyx).
        columns = (np.abs(hashes) % self.n_features).astype(np.int32)
        if not self.alternate_sign:
            return count_matrix(rows, columns[term_ids], n_rows, self.n_features, self.dtype)
        signs = np.where(hashes >= 0, 1, -1)
        matrix = sp.csr_array(
            (signs[term_ids].astype(self.dtype), (rows, columns[term_ids])), shape=(n_rows, self.n_features)
        )
        matrix.sum_duplicates()
        return matrix
