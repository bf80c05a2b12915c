"""Artifacts that explain a model's test results: confusion matrices, errors and top features."""

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # stages run without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, classification_report  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from pipeline.models.classifier import linear_coefficients  # noqa: E402


def confusion_matrix_figure(y_true, y_pred, labels: Sequence[str], normalize: str | None = None):
    """A labelled confusion matrix; `normalize="true"` shows each true label's row as fractions."""
    figure, axes = plt.subplots(figsize=(6.5, 5.5), dpi=110)
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=list(labels),
        normalize=normalize,
        values_format=".2f" if normalize else "d",
        cmap="Blues",
        ax=axes,
        colorbar=False,
    )
    axes.set_title("Test confusion matrix" + (" (row-normalised)" if normalize else " (counts)"))
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    return figure


def text_report(y_true, y_pred, labels: Sequence[str]) -> str:
    return classification_report(y_true, y_pred, labels=list(labels), digits=3, zero_division=0)


def misclassified_statements(test: pd.DataFrame, predictions, probabilities, classes) -> pd.DataFrame:
    """Test statements the model got wrong, most confident mistakes first; with their stance target, where the data
    has one (a statement's label is its stance towards that target)."""
    table = test[[column for column in ("id", "text", "target", "label") if column in test]].assign(
        predicted=predictions
    )
    if probabilities is not None:
        table["confidence"] = np.max(probabilities, axis=1)
        for index, label in enumerate(classes):
            table[f"p({label})"] = probabilities[:, index]
    wrong = table[table["label"] != table["predicted"]]
    return wrong.sort_values("confidence", ascending=False) if "confidence" in wrong else wrong


def top_features_per_class(classifier: Pipeline, top_n: int) -> dict[str, list[dict]] | None:
    """The features with the largest weights for each class; None for models without linear weights, or for
    hashed features (a column has no name)."""
    coefficients = linear_coefficients(classifier)
    if coefficients is None:
        return None
    try:
        names = classifier.named_steps["features"].get_feature_names_out()
    except AttributeError:
        return None
    classes = classifier.named_steps["classifier"].classes_
    return {
        str(label): [
            {"feature": str(names[index]), "weight": round(float(weights[index]), 4)}
            for index in np.argsort(weights)[::-1][:top_n]
        ]
        for label, weights in zip(classes, np.atleast_2d(coefficients), strict=True)
    }
