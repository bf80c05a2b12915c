"""Scores of a set of predictions, including the majority-class floor every comparison needs."""

from collections.abc import Sequence

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

# The scores runs are compared by; per-class scores are reported beside them.
HEADLINE_METRICS = ("macro_f1", "f_avg", "accuracy")


def f_avg(y_true: Sequence[str], y_pred: Sequence[str], stance_labels: Sequence[str]) -> float:
    """SemEval-2016 stance metric: the mean F1 of the two stance classes (`stance_labels`), ignoring the third
    (neutral, NONE)."""
    return float(np.mean(f1_score(y_true, y_pred, labels=list(stance_labels), average=None, zero_division=0)))


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], stance_labels: Sequence[str]
) -> dict[str, float]:
    """accuracy, macro-F1, F_avg and per-class precision / recall / F1, as a flat dict of floats."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0
    )
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0)),
        "f_avg": f_avg(y_true, y_pred, stance_labels),
    }
    for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True):
        metrics[f"precision/{label}"] = float(p)
        metrics[f"recall/{label}"] = float(r)
        metrics[f"f1/{label}"] = float(f)
        metrics[f"support/{label}"] = float(n)
    return metrics


def majority_baseline_metrics(
    y_train: Sequence[str], y_true: Sequence[str], labels: Sequence[str], stance_labels: Sequence[str]
) -> dict[str, float]:
    """The scores of always predicting the most frequent training label."""
    majority = DummyClassifier(strategy="most_frequent").fit(np.zeros(len(y_train)), y_train)
    predictions = majority.predict(np.zeros(len(y_true)))
    scores = classification_metrics(y_true, predictions, labels, stance_labels)
    return {name: scores[name] for name in HEADLINE_METRICS}
