"""One classifier per stance target inside one scikit-learn estimator.

Stance cues depend on the target ("strikes" reads differently for two targets), and one model per target beats one
pooled model with the target as a prefix on SemEval-style data. Kept as one estimator so that the logged model stays
one skops file with one signature; a target the training data did not have (or had too little of) falls back to the
pooled model, fitted on every target.
"""

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from pipeline.data.validation import normalise_text


def target_key(target) -> str:
    """Targets match whatever their case and spacing ("invasion of  iraq" is "Invasion of Iraq"), as statements
    do when validation looks for repeats."""
    return normalise_text(str(target))


class PerTargetClassifier(ClassifierMixin, BaseEstimator):
    """Route each statement to the classifier of its target.

    Parameters
    ----------
    estimator : a classifier pipeline whose first step is a `StatementText` with a `target_column`; it is cloned
        once per target, and once more as the pooled fallback.
    min_statements : targets with fewer training statements (or a single label) use the pooled model.
    """

    def __init__(self, estimator, min_statements: int = 20):
        self.estimator = estimator
        self.min_statements = min_statements

    @property
    def input_step(self):
        return self.estimator.steps[0][1]

    def fit(self, X, y):
        if not isinstance(X, pd.DataFrame):
            raise ValueError(self.input_step.missing_target_message())
        y = pd.Series(np.asarray(y), index=X.index)
        targets = self.input_step.select_target(X)
        self.classes_ = np.unique(y.to_numpy())
        self.pooled_ = clone(self.estimator).fit(X, y)
        self.by_target_ = {}
        for target, rows in targets.groupby(targets).groups.items():
            if len(rows) >= self.min_statements and y[rows].nunique() > 1:
                self.by_target_[str(target)] = clone(self.estimator).fit(X.loc[rows], y[rows])
        return self

    def own_classifiers(self) -> dict:
        """The targets' own classifiers, by `target_key`."""
        return {target_key(target): model for target, model in self.by_target_.items()}

    def without_own_classifier(self, targets: Iterable[str]) -> Counter:
        """How many of `targets` have no classifier of their own (unseen, or too few training statements): the
        pooled model answers for them."""
        own = self.own_classifiers()
        return Counter(str(target) for target in targets if target_key(target) not in own)

    def routes(self, X) -> dict:
        """model -> the row positions it answers for."""
        targets = self.input_step.select_target(X).to_numpy()
        own = self.own_classifiers()
        routes: dict = {}
        for position, target in enumerate(targets):
            model = own.get(target_key(target), self.pooled_)
            routes.setdefault(id(model), (model, []))[1].append(position)
        return routes

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "pooled_")
        probabilities = np.zeros((len(X), len(self.classes_)))
        for model, positions in self.routes(X).values():
            # A target's model knows only the labels its training rows had: place its columns among all classes.
            columns = np.searchsorted(self.classes_, model.classes_)
            probabilities[np.ix_(positions, columns)] = model.predict_proba(X.iloc[positions])
        return probabilities

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "pooled_")
        predictions = np.empty(len(X), dtype=object)
        for model, positions in self.routes(X).values():
            predictions[positions] = model.predict(X.iloc[positions])
        return predictions.astype(self.classes_.dtype)
