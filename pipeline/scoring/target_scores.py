"""Each stance target's scores, for data sets with a target column (SemEval-style data, whose researchers
compare models target by target), and their names as MLflow metrics."""

import re

import numpy as np
import pandas as pd

from pipeline.data.validation import LABEL, TARGET
from pipeline.scoring.metrics import HEADLINE_METRICS, classification_metrics

# Each target's scores, as MLflow metrics named test_by_target/<target>/<metric> (macro_f1, f_avg, accuracy,
# statements), and val_by_target/... for the validation split. Not test_<metric>/<target> like the per-class
# test_f1/<label>: MLflow's charts make a section of each name's part before the first "/", sorted by name, and that
# would add four sections interleaved with the per-class ones (test_f1 by class beside test_f_avg by target). Here
# all of them are one section per split, test_by_target (sorted before the per-class sections), and the name reads
# as what it is; in the column chooser, which sorts by name, a target's scores sit together.
TARGET_NAME_LENGTH = 200  # of a target's part of a key: MLflow refuses keys of more than 250 characters


def per_target_metrics(split: pd.DataFrame, predictions, labels: list[str], stance_labels: list[str]) -> dict:
    """target -> its headline scores on `split` (test or validation) and its number of statements, targets sorted;
    {} without targets.

    Each target is scored as the whole split is, with all of the data set's labels: a label a target's
    statements neither have nor are given scores 0 (zero_division=0), which lowers its macro-F1. A target with one
    statement gets the scores of that one prediction.
    """
    if TARGET not in split:
        return {}
    truth, predicted = split[LABEL].to_numpy(), np.asarray(predictions)
    targets = split[TARGET].astype(str).to_numpy()
    scores = {}
    for target in sorted(set(targets)):
        rows = targets == target
        metrics = classification_metrics(truth[rows], predicted[rows], labels, stance_labels)
        scores[target] = {name: metrics[name] for name in HEADLINE_METRICS} | {"statements": int(rows.sum())}
    return scores


def metric_safe(target: str) -> str:
    """A target as one part of an MLflow metric key.

    MLflow takes letters, digits, "_", "-", ".", " ", "/" and ":" in a key (\\w, as its own check); each other
    character becomes "_", and so do "/" (a target stays one part of the key) and ":" (refused on Windows). A part of
    dots only would read as a path ("." or ".."), which MLflow refuses; keys longer than 250 characters are refused too.
    """
    safe = re.sub(r"[^\w.\- ]", "_", target)[:TARGET_NAME_LENGTH]
    return safe if safe.strip(".") else "_" * max(len(safe), 1)


def target_metric_names(targets) -> dict[str, str]:
    """target -> its part of the MLflow metric keys, the same on every run. A target MLflow takes as it is keeps
    its name; the others, in sorted order, get "-2", "-3", ... when their safe name is taken."""
    names = {target: target for target in targets if metric_safe(target) == target}
    for target in sorted(set(targets) - set(names)):
        name = safe = metric_safe(target)
        number = 1
        while name in names.values():
            number += 1
            name = f"{safe}-{number}"
        names[target] = name
    return names


def per_target_metric_keys(per_target: dict, split: str = "test") -> dict[str, float]:
    """MLflow metrics `<split>_by_target/<target>/<metric>`: test_by_target/... for the evaluate stage,
    val_by_target/... for the validation split the train stage scores."""
    names = target_metric_names(per_target)
    return {
        f"{split}_by_target/{names[target]}/{metric}": float(value)
        for target, scores in per_target.items()
        for metric, value in scores.items()
    }
