"""The first step of every classifier: turn whatever the caller passes into one string per statement.

A bare TfidfVectorizer handed a DataFrame iterates over its column names and returns one row in total;
this step makes the fitted pipeline, and the MLflow model built from it, return one label per input row
whether it gets a DataFrame with a text column, a one-column DataFrame (how MLflow passes a list of
strings), a Series, or a plain list of strings.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# skops loads only types it knows to be safe. Beyond its defaults, a saved classifier holds the project's own
# text step and vectorizer and, for the calibrated SVM, scikit-learn's private calibration helpers. The sentence
# embedder holds only strings and numbers (the encoder's reference), never weights or code.
SKOPS_TRUSTED_TYPES = [
    "pipeline.text_input.StatementText",
    "pipeline.embeddings.SentenceEmbedder",
    # The fine-tuned encoder holds its weights as a safetensors blob and plain values.
    "pipeline.finetune.FineTunedEncoderClassifier",
    "pipeline.vectorizers.CompactTfidfVectorizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]


class StatementText(TransformerMixin, BaseEstimator):
    """Select the statement text; optionally prefix the stance target (what the stance is towards).

    Parameters
    ----------
    text_column : column holding the statement when the input is a DataFrame.
    target_column : optional column naming the stance target; when set its words are prefixed to the text
        so that the vectorizer can learn target-specific cues.
    """

    def __init__(self, text_column: str = "text", target_column: str | None = None):
        self.text_column = text_column
        self.target_column = target_column

    def fit(self, X, y=None):
        return self

    def select_text(self, X) -> pd.Series:
        if isinstance(X, pd.DataFrame):
            if self.text_column in X.columns:
                return X[self.text_column]
            if X.shape[1] == 1:
                return X.iloc[:, 0]
            raise ValueError(f"expected a column {self.text_column!r}; got columns {list(X.columns)}")
        if isinstance(X, str):
            raise ValueError("expected a list of statements, got a single string; wrap it in a list")
        return pd.Series(np.asarray(X, dtype=object).ravel())

    def transform(self, X) -> np.ndarray:
        text = self.select_text(X).fillna("").astype(str)
        if self.target_column and isinstance(X, pd.DataFrame) and self.target_column in X.columns:
            target = X[self.target_column].fillna("").astype(str)
            text = "target: " + target + " | " + text
        return text.to_numpy(dtype=object)
