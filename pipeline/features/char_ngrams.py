"""scikit-learn's `char_wb` n-gram counting, vectorised with NumPy.

scikit-learn builds every character n-gram of every word as a Python string and looks it up in a dict,
about 560 per statement. Here each n-gram becomes one integer computed over the whole batch at once:
the characters of a statement's padded words are mapped to small ids (their rank in an alphabet sorted by
code point), and an n-gram is the number whose base-B digits are its ids, left-aligned to `max_n` digits
(zeros after its last character). That key is unique per n-gram, and sorting keys sorts n-grams exactly as
Python sorts strings, so the vocabulary, its order and the counts are scikit-learn's.

The n-grams of one padded word w = " " + word + " " (length L) are, as in `_char_wb_ngrams`:
every window of length n for min_n <= n <= min(max_n, L), and the whole padded word once if L < min_n.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import scipy.sparse as sp

WORD_SEPARATOR = "\n"  # never inside a word: words come from str.split()
MAX_KEY = np.iinfo(np.int64).max


@dataclass(frozen=True)
class CharIds:
    """Maps code points to ids 1..len(alphabet) in code point order; anything else to the `unknown` id."""

    alphabet: np.ndarray  # sorted unique code points (uint32)
    _table: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def unknown(self) -> int:
        return len(self.alphabet) + 1

    @property
    def base(self) -> int:
        return len(self.alphabet) + 2

    def fits(self, max_n: int) -> bool:
        """Whether every n-gram key of up to max_n characters fits in an int64."""
        return self.base**max_n <= MAX_KEY

    def ids(self, codes: np.ndarray) -> np.ndarray:
        # A lookup table up to the largest known code point is one gather, faster than a binary search.
        top = int(self.alphabet[-1]) + 1 if len(self.alphabet) else 0
        if self._table is None:
            table = np.full(top + 1, self.unknown, dtype=np.int64)
            table[self.alphabet] = np.arange(1, len(self.alphabet) + 1)
            object.__setattr__(self, "_table", table)
        return self._table[np.minimum(codes, top)]


@dataclass
class PaddedWords:
    """A batch of statements as one array of code points: padded words separated by WORD_SEPARATOR."""

    codes: np.ndarray  # uint32 code points
    words_per_document: np.ndarray  # int64, one count per statement

    @classmethod
    def from_words(cls, words: Sequence[str]) -> "PaddedWords":
        """Each word its own document."""
        text = (" " + f" {WORD_SEPARATOR} ".join(words) + " ") if words else ""
        return cls(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), np.ones(len(words), dtype=np.int64))

    @classmethod
    def from_documents(cls, documents: Sequence[str], preprocess: Callable[[str], str]) -> "PaddedWords":
        words: list[str] = []
        counts = np.zeros(len(documents), dtype=np.int64)
        for row, document in enumerate(documents):
            document_words = preprocess(document).split()
            counts[row] = len(document_words)
            words += document_words
        return cls(cls.from_words(words).codes, counts)

    def alphabet(self) -> np.ndarray:
        codes = np.unique(self.codes)
        return codes[codes != ord(WORD_SEPARATOR)]


def numbered(items: list[str], dtype=np.int64) -> tuple[list[str], np.ndarray]:
    """(the distinct items in order of first occurrence, each item's number among them)."""
    # dict.fromkeys keeps first occurrences in order; map(dict.__getitem__) numbers the items at C speed.
    distinct = list(dict.fromkeys(items))
    numbers = np.fromiter(
        map({item: number for number, item in enumerate(distinct)}.__getitem__, items), dtype=dtype, count=len(items)
    )
    return distinct, numbers


@dataclass
class DistinctWords:
    """A batch of statements as counts of its distinct words.

    `char_wb` n-grams never cross a word boundary, so a statement's n-gram counts are the sum of its words'.
    Words repeat (a batch of news statements has a few distinct words per hundred), so the n-grams of each
    distinct word are computed once, and one sparse product adds them up per statement.
    """

    words: list[str]
    occurrences: sp.csr_array  # statements x distinct words, one entry per occurrence (duplicates not summed)

    @classmethod
    def from_documents(cls, documents: Sequence[str], preprocess: Callable[[str], str]) -> "DistinctWords":
        words_of_documents = [preprocess(document).split() for document in documents]
        all_words = list(chain.from_iterable(words_of_documents))
        distinct, columns = numbered(all_words, np.int32)
        indptr = np.zeros(len(documents) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, words_of_documents), dtype=np.int64, count=len(documents)), out=indptr[1:])
        if len(all_words) <= np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)  # 32-bit indices, as scikit-learn's estimators expect
        # A word repeated in a statement stays as repeated entries: the sparse product below adds them up.
        occurrences = sp.csr_array(
            (np.ones(len(columns), dtype=np.int32), columns, indptr), shape=(len(documents), len(distinct))
        )
        return cls(distinct, occurrences)

    def padded(self) -> PaddedWords:
        return PaddedWords.from_words(self.words)

    def per_statement(self, per_word: sp.csr_array, dtype) -> sp.csr_array:
        """Statements x features from distinct words x features, with sorted indices as CountVectorizer gives."""
        # Computed transposed: converting the (features x statements) product back to rows sorts each row's
        # columns in one linear pass, quicker than sorting the rows of the direct product.
        transposed = per_word.T.tocsr() @ self.occurrences.astype(dtype).T.tocsr()
        matrix = sp.csr_array(transposed.T.tocsr())
        if matrix.nnz <= np.iinfo(np.int32).max:
            matrix.indices, matrix.indptr = matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32)
        matrix.has_sorted_indices = True
        return matrix


def ngram_keys(words: PaddedWords, char_ids: CharIds, min_n: int, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(document row, n-gram key) of every n-gram occurrence, as `_char_wb_ngrams` would produce them."""
    codes = words.codes
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    separator = codes == ord(WORD_SEPARATOR)
    separator_positions = np.flatnonzero(separator)
    starts = np.concatenate([[0], separator_positions + 1])
    ends = np.concatenate([separator_positions, [len(codes)]])
    # A separator belongs to the word before it, whose end it is, so that no window starts on it.
    word_of_position = np.cumsum(separator) - separator
    end_of_position = ends[word_of_position]
    document_of_word = np.repeat(np.arange(len(words.words_per_document)), words.words_per_document)
    document_of_position = document_of_word[word_of_position]

    ids = char_ids.ids(codes)
    ids[separator] = 0
    room = end_of_position - np.arange(len(codes))  # characters left in the word from each position
    key = np.zeros(len(codes), dtype=np.int64)
    rows, keys = [], []
    for n in range(1, max_n + 1):
        # Position p adds its n-th character; the last n - 1 positions have none (and a short batch may have none).
        if len(codes) >= n:
            key[: len(codes) - n + 1] += ids[n - 1 :] * char_ids.base ** (max_n - n)
        # Below min_n, only a padded word of exactly n characters counts (once, whole).
        valid = np.flatnonzero(room >= n) if n >= min_n else starts[ends - starts == n]
        rows.append(document_of_position[valid])
        keys.append(key[valid])
    return np.concatenate(rows), np.concatenate(keys)


def keys_of_terms(terms: Sequence[str], char_ids: CharIds, max_n: int) -> np.ndarray:
    """The key of each vocabulary term; -1 for a term no document can produce (longer than max_n)."""
    as_array = np.array(list(terms), dtype=f"<U{max_n}") if terms else np.zeros(0, dtype=f"<U{max_n}")
    codes = as_array.view(np.uint32).reshape(len(as_array), max_n).astype(np.int64)
    lengths = np.array([len(term) for term in terms], dtype=np.int64)
    ids = np.where(codes > 0, char_ids.ids(codes.ravel().astype(np.uint32)).reshape(codes.shape), 0)
    weights = char_ids.base ** np.arange(max_n - 1, -1, -1, dtype=np.int64)
    keys = ids @ weights
    return np.where(lengths <= max_n, keys, -1)


def count_matrix(rows: np.ndarray, columns: np.ndarray, n_documents: int, n_features: int, dtype) -> sp.csr_array:
    """Occurrences -> a CSR count matrix with sorted indices, as CountVectorizer returns it."""
    # One number per (row, column) cell; 32 bits sort faster when they suffice.
    cell_type = np.int32 if n_documents * n_features < np.iinfo(np.int32).max else np.int64
    cells = rows.astype(cell_type) * cell_type(n_features) + columns.astype(cell_type)
    cells, counts = np.unique(cells, return_counts=True)
    indptr = np.searchsorted(cells, np.arange(n_documents + 1, dtype=np.int64) * n_features).astype(np.int32)
    matrix = sp.csr_array(
        (counts.astype(dtype), (cells % n_features).astype(np.int32), indptr), shape=(n_documents, n_features)
    )
    matrix.has_sorted_indices = True
    return matrix


def stack_rows(matrices: list[sp.csr_array], n_features: int, dtype) -> sp.csr_array:
    if not matrices:
        return sp.csr_array((0, n_features), dtype=dtype)
    stacked = sp.csr_array(sp.vstack(matrices, format="csr"))
    stacked.has_sorted_indices = True  # each block's rows are sorted; stacking keeps them
    return stacked


def terms_of_keys(keys: np.ndarray, char_ids: CharIds, max_n: int) -> list[str]:
    """The inverse of the key: the n-gram strings, for the fitted vocabulary."""
    digits = np.stack([(keys // char_ids.base ** (max_n - 1 - j)) % char_ids.base for j in range(max_n)], axis=1)
    padded_alphabet = np.concatenate([[0], char_ids.alphabet]).astype(np.uint32)
    codes = np.ascontiguousarray(padded_alphabet[digits])
    return codes.view(f"<U{max_n}").ravel().tolist()


class KeyIndex:
    """An open-addressing hash table from n-gram keys to columns, probed for a whole array at once.

    A sorted array with `np.searchsorted` needs about 17 scattered reads per lookup in a 100,000-term
    vocabulary; this table, at most half full, needs one or two.
    """

    EMPTY = -1
    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing

    def __init__(self, keys: np.ndarray, columns: np.ndarray):
        self.bits = max(4, int(2 * max(len(keys), 1) - 1).bit_length())
        self.slots = np.full(1 << self.bits, self.EMPTY, dtype=np.int64)
        self.columns = np.full(1 << self.bits, -1, dtype=np.int64)
        pending = np.flatnonzero(keys >= 0)
        slot = self.home(keys[pending])
        while len(pending):
            free = self.slots[slot] == self.EMPTY
            # Of several keys aiming at one free slot, the first takes it; the others probe on.
            _, first = np.unique(np.where(free, slot, -1), return_index=True)
            winners = first[free[first]]
            self.slots[slot[winners]] = keys[pending[winners]]
            self.columns[slot[winners]] = columns[pending[winners]]
            losers = np.ones(len(pending), dtype=bool)
            losers[winners] = False
            pending, slot = pending[losers], (slot[losers] + 1) & (len(self.slots) - 1)

    def home(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.view(np.uint64) * self.MULTIPLIER
        return (hashed >> np.uint64(64 - self.bits)).view(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The column of each key, -1 for keys not in the table."""
        found = np.full(len(keys), -1, dtype=np.int64)
        active = np.arange(len(keys))
        slot = self.home(keys)
        while len(active):
            stored = self.slots[slot]
            hit = stored == keys[active]
            found[active[hit]] = self.columns[slot[hit]]
            probe_on = ~hit & (stored != self.EMPTY)
            active, slot = active[probe_on], (slot[probe_on] + 1) & (len(self.slots) - 1)
        return found
