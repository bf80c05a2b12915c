"""A TfidfVectorizer that saves quickly and compactly in the skops format.

skops writes a fitted vocabulary (a dict of tens of thousands of terms) as one JSON node per entry:
about 40 s and 37 MB for the default word + character features. Stored as two arrays instead, the same
vocabulary takes a fraction of a second and about a megabyte. Behaviour is otherwise TfidfVectorizer's.
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class CompactTfidfVectorizer(TfidfVectorizer):
    def __getstate__(self):
        # A copy: on Python 3.11+ the inherited __getstate__ can return the live __dict__.
        state = dict(super().__getstate__())
        vocabulary = state.pop("vocabulary_", None)
        # `stop_words_` only lists the terms cut by min_df / max_df / max_features: introspection, not needed.
        state.pop("stop_words_", None)
        # `_stop_words_id` caches id(stop_words), a memory address: it would make equal models save differently.
        state.pop("_stop_words_id", None)
        if vocabulary is not None:
            state["vocabulary_terms_"] = np.array(list(vocabulary), dtype=str)
            state["vocabulary_indices_"] = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        return state

    def __setstate__(self, state):
        terms, indices = state.pop("vocabulary_terms_", None), state.pop("vocabulary_indices_", None)
        if terms is not None:
            state["vocabulary_"] = dict(zip(terms.tolist(), indices.tolist(), strict=True))
        super().__setstate__(state)
