"""The floor for the train stage: load the same split and fit the same pipeline, nothing else.

Same vectorizers, classifier and parameters as the default config (features=word_char, model=logreg).
With --project-vectorizer it uses the project's CompactTfidfVectorizer (same features, vectorised char_wb counting),
so that it fits exactly what the train stage fits; without, scikit-learn's TfidfVectorizer.
"""

import sys

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

if "--project-vectorizer" in sys.argv:
    from pipeline.features.vectorizers import CompactTfidfVectorizer as TfidfVectorizer  # noqa: F811
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

train = pd.read_parquet("data/processed/train.parquet")
classifier = Pipeline(
    [
        (
            "features",
            FeatureUnion(
                [
                    (
                        "word",
                        TfidfVectorizer(
                            ngram_range=(1, 2), max_features=50000, sublinear_tf=True, strip_accents="unicode"
                        ),
                    ),
                    (
                        "char",
                        TfidfVectorizer(
                            analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=100000, sublinear_tf=True
                        ),
                    ),
                ]
            ),
        ),
        ("classifier", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000, random_state=42)),
    ]
)
classifier.fit(train["text"], train["label"])
