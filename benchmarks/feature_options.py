"""Cross-validated scores of feature options on the shipped corpus, as docs/corpus.md measures the default.

    .venv/bin/python benchmarks/feature_options.py                       # after make run (the splits)
    .venv/bin/python benchmarks/feature_options.py features=word_char_minilm \
        features.vectorizer.transformer_weights.minilm=2

With no argument, compares every option under conf/features/ with logistic regression. Folds are those of
`python -m pipeline.learning_curve`: five, stratified, keeping source articles whole, over the training and
validation splits (the test split stays unseen). Prints mean ± spread of macro-F1 and F_avg and the fit time.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from pipeline.data.stage_io import read_split
from pipeline.data.validation import LABEL
from pipeline.learning_curve import cross_validation_folds
from pipeline.scoring.metrics import classification_metrics
from pipeline.train import fit_classifier

REPO = Path(__file__).resolve().parents[1]
OPTIONS = ("word", "char", "word_char", "minilm", "word_char_minilm")


def cross_validate(overrides: list[str]) -> dict[str, float]:
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=overrides)
    frame = pd.concat([read_split(cfg.paths.processed, "train"), read_split(cfg.paths.processed, "validation")])
    scores, seconds = [], []
    for train_rows, test_rows in cross_validation_folds(frame, cfg.seed):
        fold_train, fold_test = frame.iloc[train_rows], frame.iloc[test_rows]
        start = time.perf_counter()
        classifier = fit_classifier(cfg, fold_train)
        seconds.append(time.perf_counter() - start)
        predictions = classifier.predict(fold_test)
        scores.append(classification_metrics(fold_test[LABEL], predictions, cfg.data.labels, cfg.data.stance_labels))
    return {
        **{
            f"{metric}_{name}": float(function([fold[metric] for fold in scores]))
            for metric in ("macro_f1", "f_avg")
            for name, function in (("mean", np.mean), ("std", np.std))
        },
        "fit_seconds": float(np.median(seconds)),
        "statements": len(frame),
    }


def main() -> None:
    runs = [sys.argv[1:]] if len(sys.argv) > 1 else [[f"features={option}"] for option in OPTIONS]
    print(f"{'overrides':<60} {'macro-F1':>16} {'F_avg':>16} {'fit s':>7}")
    for overrides in runs:
        result = cross_validate(overrides)
        macro_f1 = f"{result['macro_f1_mean']:.3f} ± {result['macro_f1_std']:.3f}"
        f_avg = f"{result['f_avg_mean']:.3f} ± {result['f_avg_std']:.3f}"
        print(f"{' '.join(overrides):<60} {macro_f1:>16} {f_avg:>16} {result['fit_seconds']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
