"""Training on data whose features do not fit in memory: a Pipeline that learns batch by batch.

`model=sgd_out_of_core` builds one. Its transforms must be stateless (`features=hashing`: nothing to learn
before the first batch), and its last step must have `partial_fit` (SGDClassifier). Fitting streams the
statements through the transforms one batch at a time and hands each batch's features to `partial_fit`, for
a few passes in a seeded shuffled order; predicting also goes batch by batch. Only a few batches of features are
in memory at any time. It stays a scikit-learn Pipeline, so it saves to one skops file like any other model.

With `n_jobs` > 1 the features of the next batches are computed in worker processes while the model learns
from the current one: feature extraction is most of the work. The batches arrive in order, so the model is
the same as with one process.
"""

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if

from pipeline.features.text_input import StatementText


def learns_nothing(transform) -> bool:
    """Whether a transform is stateless, so that fitting it on one batch fits it for all of them."""
    if isinstance(transform, StatementText):
        return True
    if isinstance(transform, FeatureUnion):
        return all(learns_nothing(part) for _, part in transform.transformer_list if part not in ("drop", None))
    if isinstance(transform, Pipeline):
        return all(learns_nothing(step) for _, step in transform.steps if step not in ("passthrough", None))
    return not get_tags(transform).requires_fit


class BatchedPipeline(Pipeline):
    """A Pipeline fitted with `partial_fit` over batches; see the module's docstring.

    Parameters (beyond Pipeline's)
    ----------
    batch_size : statements per batch.
    epochs : passes over the training data.
    class_weight : None, or "balanced" to weight each statement by the inverse of its label's frequency
        (SGDClassifier's own class_weight="balanced" is not available with partial_fit).
    random_state : seed of the shuffled order of each pass.
    n_jobs : processes that compute features (joblib's convention: -1 is one per core, None is 1).
    """

    def __init__(
        self,
        steps,
        *,
        batch_size=20_000,
        epochs=3,
        class_weight=None,
        random_state=None,
        n_jobs=None,
        transform_input=None,
        memory=None,
        verbose=False,
    ):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.batch_size = batch_size
        self.epochs = epochs
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def check_steps(self) -> None:
        stateful = [name for name, step in self.steps[:-1] if not learns_nothing(step)]
        if stateful:
            raise ValueError(
                f"learning in batches needs transforms that learn nothing, but step(s) {stateful} must be fitted "
                "on all the data first (a TF-IDF vocabulary); use hashing features (features=hashing)"
            )
        if not hasattr(self._final_estimator, "partial_fit"):
            raise ValueError(f"{type(self._final_estimator).__name__} has no partial_fit; use SGDClassifier")

    def batch_features(self, X, row_batches: list[np.ndarray]):
        """The features of each batch of rows, in order; see the module's docstring for n_jobs."""
        transforms = [transform for _, transform in self.steps[:-1]]
        jobs = min(effective_n_jobs(self.n_jobs), len(row_batches))
        if jobs <= 1:
            return (transformed(transforms, _safe_indexing(X, rows)) for rows in row_batches)
        # Two batches ahead per worker keep it busy; more would only hold features in memory.
        parallel = Parallel(n_jobs=jobs, return_as="generator", pre_dispatch="2*n_jobs")
        return parallel(delayed(transformed)(transforms, _safe_indexing(X, rows)) for rows in row_batches)

    def fit(self, X, y, **params):
        self.check_steps()
        labels = np.asarray(y)
        classes = np.unique(labels)
        weights = compute_sample_weight(self.class_weight, labels) if self.class_weight else None
        # Stateless transforms: fitting them on a few rows sets their fitted attributes, nothing else. Except that
        # the statement selector records the stance targets it sees (inference names the ones new to the model):
        # it sees every row, which costs one pass over one column.
        first = _safe_indexing(X, np.arange(min(len(labels), 2)))
        for _, transform in self.steps[:-1]:
            transform.fit(X if isinstance(transform, StatementText) else first)
            first = transform.transform(first)
        random = np.random.default_rng(self.random_state)
        row_batches = []
        for _ in range(self.epochs):
            order = random.permutation(len(labels))
            row_batches += [
                np.sort(order[start : start + self.batch_size]) for start in range(0, len(labels), self.batch_size)
            ]
        for rows, features in zip(row_batches, self.batch_features(X, row_batches), strict=True):
            self._final_estimator.partial_fit(
                features, labels[rows], classes=classes, sample_weight=None if weights is None else weights[rows]
            )
        return self

    def in_batches(self, method: str, X):
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        row_batches = [
            np.arange(start, min(start + self.batch_size, n_rows))
            for start in range(0, max(n_rows, 1), self.batch_size)
        ]
        predict = getattr(self._final_estimator, method)
        return np.concatenate([predict(features) for features in self.batch_features(X, row_batches)])

    def predict(self, X, **params):
        return self.in_batches("predict", X)

    @available_if(lambda self: hasattr(self._final_estimator, "predict_proba"))
    def predict_proba(self, X, **params):
        return self.in_batches("predict_proba", X)

    @available_if(lambda self: hasattr(self._final_estimator, "decision_function"))
    def decision_function(self, X, **params):
        return self.in_batches("decision_function", X)


def transformed(transforms: list, batch):
    """A batch through the (fitted, stateless) transforms; a function of its own so that workers can run it."""
    for transform in transforms:
        batch = transform.transform(batch)
    return batch
