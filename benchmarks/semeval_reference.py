"""The reference a SemEval-format run is measured against: one TF-IDF (word 1-3 + char 2-5) LinearSVC per target,
trained on the whole training file, scored on the gold test file with the official F_avg (mean F1 of FAVOR and
AGAINST over all test tweets). Twenty lines of scikit-learn, no validation split, no selection.

    python benchmarks/semeval_reference.py data/raw/semeval2016
"""

import sys
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

TRAIN, TEST = "semeval2016-task6-trainingdata.txt", "SemEval2016-Task6-subtaskA-testdata-gold.txt"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", encoding="cp1252", quoting=3, dtype=str)


def reference_f_avg(folder: Path) -> float:
    train, test = read(folder / TRAIN), read(folder / TEST)
    predictions = pd.Series(index=test.index, dtype=object)
    for target, rows in train.groupby("Target"):
        features = make_union(TfidfVectorizer(ngram_range=(1, 3)), TfidfVectorizer(analyzer="char", ngram_range=(2, 5)))
        model = make_pipeline(features, LinearSVC()).fit(rows["Tweet"], rows["Stance"])
        in_target = test["Target"] == target
        predictions[in_target] = model.predict(test.loc[in_target, "Tweet"])
    return float(f1_score(test["Stance"], predictions, labels=["FAVOR", "AGAINST"], average="macro"))


if __name__ == "__main__":
    print(f"reference F_avg {reference_f_avg(Path(sys.argv[1] if len(sys.argv) > 1 else 'data/raw/semeval2016')):.4f}")
