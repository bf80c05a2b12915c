"""Ways of combining TF-IDF n-grams with sentence embeddings, cross-validated on the shipped corpus.

    .venv/bin/python benchmarks/embedding_union_grid.py union standardised voting kernel prototypes  # embeddings extra
    .venv/bin/python benchmarks/embedding_union_grid.py layers

The folds are those of `python -m pipeline.learning_curve` (five, stratified, source articles kept whole) over the
training and validation splits; the test split and the seed quotes are never read. In each fold the `word_char`
vectorizer is fitted on the fold's training part only; the embeddings come from the disk cache (one forward pass per
statement, the encoder is not trained). Each block is computed once per fold, so that the grid costs classifier fits
only. Prints 5-fold macro-F1, mean ± spread:

- union: the `word_char_minilm` feature union (unit-length rows in each part) at embedding weight w, logistic
  regression at C (the shipped setting is C=4, w=1.0);
- standardised: the same with the embedding block standardised per dimension (fitted on the fold's training part),
  then weighted by w (a standardised 384-dimension row has length about 20, so w=0.05 is about unit length);
- voting: soft voting of two logistic regressions, one on `word_char` (C_t) and one on the embeddings (C_e),
  probabilities mixed with weight a on the embeddings' model; and each of the two alone;
- kernel: non-linear views of the embeddings: an RBF-kernel SVM on them alone (C_s) and voting with the n-gram
  logistic regression (C=8) at share a; and the union with the embeddings mapped through a Nystroem RBF
  approximation (gamma g, rows scaled to unit length) at weight w;
- prototypes: the union plus twelve cosine similarities, of each statement's embedding to short descriptions of
  the three stances written for this test (`STANCE_PROTOTYPES`; not corpus or seed-quote text), at weight w, with
  and without the embeddings themselves (logistic regression, C=4);
- layers: the union (C=4, w=1.0) with the mean-pooled output of the encoder's first 1, 2, ..., 6 layers
  (SentenceEmbedder's `layers`), on these folds and on four other draws of them, and layer 3 at other weights.
  Every other block uses the whole encoder (`layers=None`), as these grids were run before `layers` existed.
"""

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from hydra import compose, initialize_config_dir
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler, normalize
from sklearn.svm import SVC

from pipeline.data.stage_io import read_split
from pipeline.data.validation import LABEL
from pipeline.features.embeddings import SentenceEmbedder
from pipeline.learning_curve import cross_validation_folds
from pipeline.models.classifier import build_features
from pipeline.scoring.metrics import classification_metrics

REPO = Path(__file__).resolve().parents[1]
UNION_GRID = [(1, 0.5), (1, 0.75), (1, 1.0), (1, 1.25), (2, 0.5), (2, 0.75), (2, 1.0)]
UNION_GRID += [(4, 0.75), (4, 1.25), (8, 0.75), (8, 1.25)]
STANDARDISED_GRID = [(4, 0.05), (4, 0.1)]
VOTING_TEXT_C, VOTING_EMBEDDING_C, VOTING_SHARES = (2, 4, 8), (1, 4, 16, 64), (0.2, 0.3, 0.4, 0.5, 0.6)
KERNEL_SVM_C, KERNEL_SHARES = (1, 4, 16), (0.2, 0.3, 0.4, 0.5)
NYSTROEM_GRID = [(1.0, 0.5), (1.0, 1.0), (2.0, 0.5), (2.0, 1.0)]
# The encoder's depths (None: all six layers, the sentence embedding) and four more draws of the folds.
LAYERS = (1, 2, 3, 4, 5, None)
OTHER_FOLD_SEEDS = (1, 2, 3, 4)
LAYER_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5)
# (similarity weight, embedding weight)
PROTOTYPE_GRID = [(0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (4.0, 1.0), (1.0, 0.0), (2.0, 0.0), (4.0, 0.0)]
STANCE_PROTOTYPES = [
    "I support the military intervention and the airstrikes.",
    "The strikes are necessary and justified to protect people.",
    "We welcome the bombing campaign against the terrorists.",
    "Military force is the right answer here.",
    "I oppose the military intervention and condemn the airstrikes.",
    "The bombing is illegal and kills civilians.",
    "Foreign powers must stop the air campaign and withdraw.",
    "This war is a mistake and will make things worse.",
    "The report describes where the aircraft struck, without opinion.",
    "Officials announced the number of sorties flown.",
    "Talks between the diplomats will continue next week.",
    "A factual account of military movements.",
]


def fold_blocks(cfg, frame: pd.DataFrame) -> list[dict]:
    embedder = SentenceEmbedder().fit(frame["text"])
    embeddings = embedder.transform(frame["text"])
    prototypes = embedder.transform(pd.Series(STANCE_PROTOTYPES))
    similarities = normalize(embeddings) @ normalize(prototypes).T
    folds = []
    for train_rows, test_rows in cross_validation_folds(frame, cfg.seed):
        vectorizer = build_features(cfg.features)
        folds.append(
            {
                "ngrams_train": vectorizer.fit_transform(frame["text"].iloc[train_rows]),
                "ngrams_test": vectorizer.transform(frame["text"].iloc[test_rows]),
                "embeddings_train": embeddings[train_rows],
                "embeddings_test": embeddings[test_rows],
                "similarities_train": similarities[train_rows],
                "similarities_test": similarities[test_rows],
                "y_train": frame[LABEL].iloc[train_rows].to_numpy(),
                "y_test": frame[LABEL].iloc[test_rows].to_numpy(),
            }
        )
    return folds


def logistic_regression(C: float, seed: int) -> LogisticRegression:
    # As conf/model/logreg.yaml.
    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)


def main() -> None:
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose(config_name="config", overrides=["features=word_char"])
    frame = pd.concat([read_split(cfg.paths.processed, split) for split in ("train", "validation")])
    folds = fold_blocks(cfg, frame)

    def macro_f1(truth, predicted) -> float:
        scores = classification_metrics(pd.Series(truth), predicted, cfg.data.labels, cfg.data.stance_labels)
        return scores["macro_f1"]

    def show(name: str, scores: list[float]) -> None:
        print(f"{name:<40} {np.mean(scores):.3f} ± {np.std(scores):.3f}", flush=True)

    def union_scores(C: float, weight: float, standardise: bool) -> list[float]:
        scores = []
        for fold in folds:
            train, test = fold["embeddings_train"], fold["embeddings_test"]
            if standardise:
                scaler = StandardScaler().fit(train)
                train, test = scaler.transform(train), scaler.transform(test)
            model = logistic_regression(C, cfg.seed)
            model.fit(sp.hstack([fold["ngrams_train"], weight * train]).tocsr(), fold["y_train"])
            scores.append(
                macro_f1(fold["y_test"], model.predict(sp.hstack([fold["ngrams_test"], weight * test]).tocsr()))
            )
        return scores

    if "union" in sys.argv[1:]:
        for C, weight in UNION_GRID:
            show(f"union C={C} w={weight}", union_scores(C, weight, standardise=False))
    if "standardised" in sys.argv[1:]:
        for C, weight in STANDARDISED_GRID:
            show(f"standardised union C={C} w={weight}", union_scores(C, weight, standardise=True))
    if "voting" in sys.argv[1:]:
        probabilities = {}
        for index, fold in enumerate(folds):
            for C in VOTING_TEXT_C:
                model = logistic_regression(C, cfg.seed).fit(fold["ngrams_train"], fold["y_train"])
                probabilities["ngrams", C, index] = model.predict_proba(fold["ngrams_test"])
                classes = model.classes_
            for C in VOTING_EMBEDDING_C:
                model = logistic_regression(C, cfg.seed).fit(fold["embeddings_train"], fold["y_train"])
                probabilities["embeddings", C, index] = model.predict_proba(fold["embeddings_test"])
        for text_C, embedding_C, share in itertools.product(VOTING_TEXT_C, VOTING_EMBEDDING_C, VOTING_SHARES):
            scores = [
                macro_f1(
                    fold["y_test"],
                    classes[
                        (
                            (1 - share) * probabilities["ngrams", text_C, index]
                            + share * probabilities["embeddings", embedding_C, index]
                        ).argmax(axis=1)
                    ],
                )
                for index, fold in enumerate(folds)
            ]
            show(f"voting C_t={text_C} C_e={embedding_C} a={share}", scores)
        for name, grid in (("ngrams", VOTING_TEXT_C), ("embeddings", VOTING_EMBEDDING_C)):
            for C in grid:
                scores = [
                    macro_f1(fold["y_test"], classes[probabilities[name, C, index].argmax(axis=1)])
                    for index, fold in enumerate(folds)
                ]
                show(f"{name} alone C={C}", scores)

    if "kernel" in sys.argv[1:]:
        text_probabilities, svm_probabilities = {}, {}
        for index, fold in enumerate(folds):
            model = logistic_regression(8, cfg.seed).fit(fold["ngrams_train"], fold["y_train"])
            text_probabilities[index], classes = model.predict_proba(fold["ngrams_test"]), model.classes_
            for C in KERNEL_SVM_C:
                svm = SVC(C=C, kernel="rbf", class_weight="balanced", probability=True, random_state=cfg.seed)
                svm.fit(fold["embeddings_train"], fold["y_train"])
                svm_probabilities[C, index] = svm.predict_proba(fold["embeddings_test"])
        for C in KERNEL_SVM_C:
            scores = [
                macro_f1(fold["y_test"], classes[svm_probabilities[C, index].argmax(axis=1)])
                for index, fold in enumerate(folds)
            ]
            show(f"rbf svm alone C_s={C}", scores)
            for share in KERNEL_SHARES:
                scores = [
                    macro_f1(
                        fold["y_test"],
                        classes[((1 - share) * text_probabilities[i] + share * svm_probabilities[C, i]).argmax(axis=1)],
                    )
                    for i, fold in enumerate(folds)
                ]
                show(f"voting C_t=8 rbf svm C_s={C} a={share}", scores)
        for gamma, weight in NYSTROEM_GRID:
            scores = []
            for fold in folds:
                kernel_map = Nystroem(gamma=gamma, n_components=600, random_state=cfg.seed)
                kernel_map.fit(fold["embeddings_train"])
                train = normalize(kernel_map.transform(fold["embeddings_train"]))
                test = normalize(kernel_map.transform(fold["embeddings_test"]))
                model = logistic_regression(4, cfg.seed)
                model.fit(sp.hstack([fold["ngrams_train"], weight * train]).tocsr(), fold["y_train"])
                predicted = model.predict(sp.hstack([fold["ngrams_test"], weight * test]).tocsr())
                scores.append(macro_f1(fold["y_test"], predicted))
            show(f"nystroem union g={gamma} w={weight} C=4", scores)

    if "prototypes" in sys.argv[1:]:
        for similarity_weight, embedding_weight in PROTOTYPE_GRID:
            scores = []
            for fold in folds:
                train, test = (
                    sp.hstack(
                        [
                            fold[f"ngrams_{part}"],
                            embedding_weight * fold[f"embeddings_{part}"],
                            similarity_weight * fold[f"similarities_{part}"],
                        ]
                    ).tocsr()
                    for part in ("train", "test")
                )
                model = logistic_regression(4, cfg.seed).fit(train, fold["y_train"])
                scores.append(macro_f1(fold["y_test"], model.predict(test)))
            show(f"prototypes s={similarity_weight} w={embedding_weight} C=4", scores)

    if "layers" in sys.argv[1:]:
        layer_study(cfg, frame, macro_f1, show)


def layer_study(cfg, frame: pd.DataFrame, macro_f1, show) -> None:
    """The union (C=4) with the pooled output of each depth of the encoder, on the usual folds and on four other
    fold draws (the layer was chosen on the first), and the weight of layer 3's embeddings on the usual folds."""
    from pipeline.features.embeddings import SentenceEmbedder

    by_depth = {
        layers: SentenceEmbedder(layers=layers).fit(frame["text"]).transform(frame["text"]) for layers in LAYERS
    }
    labels = frame[LABEL].to_numpy()
    for fold_seed in (cfg.seed, *OTHER_FOLD_SEEDS):
        folds = list(cross_validation_folds(frame, fold_seed))
        ngrams = []
        for train_rows, test_rows in folds:
            vectorizer = build_features(cfg.features)
            ngrams.append(
                (
                    vectorizer.fit_transform(frame["text"].iloc[train_rows]),
                    vectorizer.transform(frame["text"].iloc[test_rows]),
                )
            )
        weights = LAYER_WEIGHTS if fold_seed == cfg.seed else (1.0,)
        for layers, weight in [
            (None, 0.0),
            *((depth, 1.0) for depth in LAYERS),
            *((3, w) for w in weights if w != 1.0),
        ]:
            scores = []
            for (train_rows, test_rows), (train_ngrams, test_ngrams) in zip(folds, ngrams, strict=True):
                train, test = train_ngrams, test_ngrams
                if weight:
                    train = sp.hstack([train, weight * by_depth[layers][train_rows]]).tocsr()
                    test = sp.hstack([test, weight * by_depth[layers][test_rows]]).tocsr()
                model = logistic_regression(4, cfg.seed).fit(train, labels[train_rows])
                scores.append(macro_f1(labels[test_rows], model.predict(test)))
            what = "word_char alone" if not weight else f"union layers={layers} w={weight}"
            show(f"folds {fold_seed}: {what}", scores)


if __name__ == "__main__":
    main()
