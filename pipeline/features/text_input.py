"""The first step of every classifier: turn whatever the caller passes into one string per statement.

A bare TfidfVectorizer handed a DataFrame iterates over its column names and returns one row in total;
this step makes the fitted pipeline, and the MLflow model built from it, return one label per input row
whether it gets a DataFrame with a text column, a one-column DataFrame (how MLflow passes a list of
strings), a Series, or a plain list of strings.
"""

import functools
import sys

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipeline import FORMER_MODULES

# The column names of the prepared splits (see pipeline.data.validation), accepted beside the user's own names.
STANDARD_TEXT, STANDARD_TARGET = "text", "target"

# skops loads only types it knows to be safe. Beyond its defaults, a saved classifier holds the project's own
# text step, vectorizers and batch-trained pipeline and, for the calibrated SVM, scikit-learn's private
# calibration helpers. The sentence embedder holds only strings and numbers (the encoder's reference), never
# weights or code.
SKOPS_SAVED_TYPES = [
    "pipeline.features.text_input.StatementText",
    "pipeline.features.embeddings.SentenceEmbedder",
    # The fine-tuned encoder holds its weights as a safetensors blob and plain values.
    "pipeline.models.finetune.FineTunedEncoderClassifier",
    "pipeline.models.per_target.PerTargetClassifier",
    "pipeline.features.vectorizers.CompactTfidfVectorizer",
    "pipeline.features.vectorizers.FastHashingVectorizer",
    "pipeline.models.out_of_core.BatchedPipeline",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
# Loading trusts the same classes under the paths that models saved before their modules moved name (see
# pipeline/__init__.py); a new model's MLmodel file lists only SKOPS_SAVED_TYPES.
SKOPS_TRUSTED_TYPES = SKOPS_SAVED_TYPES + [
    f"{former}.{type_path.rsplit('.', 1)[1]}"
    for former, moved_to in FORMER_MODULES.items()
    for type_path in SKOPS_SAVED_TYPES
    if type_path.rsplit(".", 1)[0] == moved_to
]


@functools.cache
def mlflow_input_error_class() -> type:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    class InvalidModelInput(MlflowException, ValueError):
        def __init__(self, message: str):
            super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    return InvalidModelInput


def input_error(message: str) -> ValueError:
    """A ValueError for input the caller must fix. Where MLflow is loaded (a model server, mlflow.pyfunc) it is
    also an MlflowException: MLflow's server returns that one's message to the client with HTTP 400, where any
    other error becomes a generic message with the real one buried in a stack trace."""
    if "mlflow.exceptions" not in sys.modules:  # stance-predict on a .skops file need not import MLflow for this
        return ValueError(message)
    return mlflow_input_error_class()(message)


def describe_value(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()  # np.float64(3.0) -> 3.0
    if value is Ellipsis:
        return "Ellipsis (`...`, a placeholder in the examples: put your statements there)"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        # Not the value itself: pandas turns None into NaN in a column of strings (["ok", None]).
        return "missing (None or NaN)"
    return f"{value!r} ({type(value).__name__})"


def check_statements(texts: pd.Series) -> None:
    """A clear ValueError for input that is not one string per statement, instead of a made-up prediction."""
    if len(texts) == 0:
        raise input_error('no statements given; pass a list of strings, e.g. model.predict(["The strikes must stop."])')
    not_text = ~texts.map(lambda value: isinstance(value, str))
    if not_text.any():
        position = int(np.flatnonzero(not_text.to_numpy())[0])
        raise input_error(
            f"expected every statement to be a string; statement {position} is "
            f"{describe_value(texts.iloc[position])}"
            + (f", and {int(not_text.sum()) - 1} more are not strings" if not_text.sum() > 1 else "")
        )


class StatementText(TransformerMixin, BaseEstimator):
    """Select the statement text; optionally prefix the stance target (what the stance is towards).

    Parameters
    ----------
    text_column : column holding the statement when the input is a DataFrame (the user's own name; the standard
        name `text` is accepted too).
    target_column : optional column naming the stance target (the user's own name, or `target`); when set, the
        model needs it and its words are prefixed to the text so that the vectorizer can learn target-specific cues.
    """

    def __init__(self, text_column: str = STANDARD_TEXT, target_column: str | None = None):
        self.text_column = text_column
        self.target_column = target_column

    def fit(self, X, y=None):
        if self.target_column and isinstance(X, pd.DataFrame):
            # The targets seen in training, so that inference can name the statements whose target is new to the
            # model (it tags them by their words alone, the target's words meaning nothing it learnt).
            self.targets_ = sorted(set(self.select_target(X)))
        return self

    def select_text(self, X) -> pd.Series:
        if isinstance(X, pd.DataFrame):
            for column in (self.text_column, STANDARD_TEXT):
                if column in X.columns:
                    return X[column]
            if X.shape[1] == 1 and not self.target_column:
                return X.iloc[:, 0]
            raise input_error(f"expected a column {self.text_column!r}; got columns {list(X.columns)}")
        if isinstance(X, str):
            raise input_error("expected a list of statements, got a single string; wrap it in a list")
        if self.target_column:
            raise input_error(self.missing_target_message())
        return pd.Series(np.asarray(X, dtype=object).ravel())

    def select_target(self, X) -> pd.Series:
        """The stance target of each row; a model trained with targets refuses input without them."""
        if isinstance(X, pd.DataFrame):
            for column in (self.target_column, STANDARD_TARGET):
                if column in X.columns:
                    target = X[column]
                    # Stripped as the training data's targets were (validation.py): " Iraq " is the target "Iraq".
                    stripped = target.astype(str).str.strip()
                    if target.isna().any() or (stripped == "").any():
                        raise input_error(f"column {column!r} has empty targets; every statement needs its target")
                    return stripped
        raise input_error(self.missing_target_message())

    def missing_target_message(self) -> str:
        return (
            f"this model was trained with stance targets: pass a DataFrame with columns {self.text_column!r} and "
            f"{self.target_column!r} (stance-predict: --target-column)"
        )

    def transform(self, X) -> np.ndarray:
        text = self.select_text(X)
        check_statements(text)
        if self.target_column:
            text = "target: " + self.select_target(X) + " | " + text
        return text.to_numpy(dtype=object)


def input_step(model) -> StatementText | None:
    """A fitted model's first step, or a per-target model's, when it is the project's StatementText."""
    step = getattr(model, "input_step", None)
    if step is None and hasattr(model, "steps"):
        step = model.steps[0][1]
    return step if isinstance(step, StatementText) else None


def input_columns(model) -> tuple[str, str | None]:
    """The (text, target) column names a fitted model reads: its first step's, or those of a per-target model."""
    step = input_step(model)
    if step is not None:
        return step.text_column, step.target_column
    return STANDARD_TEXT, None


def training_targets(model) -> list[str] | None:
    """The stance targets a model was trained on; None without targets, or for a model saved before it kept them."""
    step = input_step(model)
    return getattr(step, "targets_", None) if step is not None else None
