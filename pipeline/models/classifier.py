"""Building the scikit-learn pipeline from the `features` and `model` config groups."""

from hydra.utils import instantiate
from omegaconf import DictConfig
from sklearn.base import BaseEstimator
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import get_tags

from pipeline.errors import UserInputError
from pipeline.features.embeddings import SentenceEmbedder
from pipeline.features.text_input import STANDARD_TEXT, StatementText
from pipeline.models.out_of_core import BatchedPipeline
from pipeline.models.per_target import PerTargetClassifier


def as_tuples(estimator: BaseEstimator) -> BaseEstimator:
    """YAML has no tuples, but scikit-learn insists that `ngram_range` is one."""
    lists = {
        name: tuple(value)
        for name, value in estimator.get_params(deep=True).items()
        if name.rsplit("__", 1)[-1] == "ngram_range" and isinstance(value, list)
    }
    return estimator.set_params(**lists)


def build_features(features: DictConfig) -> BaseEstimator:
    return as_tuples(instantiate(features.vectorizer, _convert_="all"))


def build_estimator(model: DictConfig) -> BaseEstimator:
    return instantiate(model.estimator, _convert_="all")


def build_classifier(
    features: DictConfig, model: DictConfig, text_column: str = STANDARD_TEXT, target_column: str | None = None
) -> BaseEstimator:
    """text selection -> vectorizer(s) from `features` -> classifier from `model`; one per target with
    `model.per_target`. Column names are the user's, so that the logged model takes the user's own table.
    A model with an `out_of_core` section learns batch by batch (see pipeline.models.out_of_core)."""
    steps = [
        ("text", StatementText(text_column=text_column, target_column=target_column)),
        ("features", build_features(features)),
        ("classifier", build_estimator(model)),
    ]
    check_features_suit_model(steps[1][1], steps[2][1], features, model)
    pipeline = build_out_of_core(steps, model, features) if model.get("out_of_core") else Pipeline(steps)
    if not model.get("per_target", False):
        return pipeline
    if not target_column:
        raise UserInputError("model.per_target=true needs a stance target: set data.target_column")
    return PerTargetClassifier(pipeline, min_statements=model.get("per_target_min_statements", 20))


def parts(estimator) -> list:
    """The estimator and every estimator nested in it (a FeatureUnion's parts, a pipeline's steps)."""
    nested = estimator.get_params(deep=True).values() if hasattr(estimator, "get_params") else []
    return [estimator, *(value for value in nested if isinstance(value, BaseEstimator))]


def check_features_suit_model(vectorizer, estimator, features: DictConfig, model: DictConfig) -> None:
    """Refuse, before any work (embedding the corpus takes minutes), features the model cannot read:
    - a vectorizer for a model that reads the text itself (model=minilm_finetune);
    - sentence embeddings, whose components are signed, for a model that needs non-negative features (counts,
      TF-IDF: the naive Bayes models). Shifting them to be positive would feed the model something it reads as
      counts without being counts; the error says what pairs instead.
    Also checks the weights of a feature union, which scikit-learn would only trip over after the features exist."""
    check_union_weights(vectorizer)
    try:
        input_tags = get_tags(estimator).input_tags
    except AttributeError:  # a model from outside scikit-learn without its estimator tags: nothing to check
        return
    if input_tags.string and not input_tags.two_d_array and not passes_text_through(vectorizer):
        raise UserInputError(
            f"model={model.name} reads the statements' text itself: use features=text (the default it selects), "
            f"not features={features.name}, whose vectorizer would turn the text into numbers first"
        )
    if not input_tags.positive_only:
        return
    if any(isinstance(part, SentenceEmbedder) for part in parts(vectorizer)):
        raise UserInputError(
            f"model={model.name} with features={features.name}: {type(estimator).__name__} needs non-negative "
            "features (counts or TF-IDF), but sentence embeddings have negative values; use n-gram features "
            "(e.g. features=word_char) with this model, or a model such as logreg with the embeddings"
        )


def passes_text_through(vectorizer) -> bool:
    """features=text: a FunctionTransformer without a function hands the model the text unchanged."""
    return isinstance(vectorizer, FunctionTransformer) and vectorizer.func is None


def check_union_weights(vectorizer) -> None:
    """Each weight of a feature union is a number and names one of its parts."""
    for union in (part for part in parts(vectorizer) if isinstance(part, FeatureUnion)):
        names = [name for name, _ in union.transformer_list]
        where = "features.vectorizer.transformer_weights" if union is vectorizer else "transformer_weights"
        for name, weight in (union.transformer_weights or {}).items():
            if name not in names:
                raise UserInputError(f"{where}.{name}: no such part; the parts are {', '.join(names)}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise UserInputError(
                    f"{where}.{name}={weight!r}: expected a number, how much the {name} features count against "
                    "the other parts (1.0: the same)"
                )


def build_out_of_core(steps: list, model: DictConfig, features: DictConfig) -> BatchedPipeline:
    classifier = BatchedPipeline(steps, **model.out_of_core, random_state=model.estimator.get("random_state"))
    try:
        classifier.check_steps()
    except ValueError as error:
        raise UserInputError(f"model={model.name} with features={features.name}: {error}") from None
    return classifier


def linear_coefficients(classifier: Pipeline):
    """The (classes x features) weights of a linear classifier, or None for a model that has none.

    A calibrated LinearSVC keeps its weights inside the calibrated wrapper.
    """
    if not hasattr(classifier, "named_steps"):
        return None  # one model per target: no single set of weights
    estimator = classifier.named_steps["classifier"]
    if hasattr(estimator, "calibrated_classifiers_") and len(estimator.calibrated_classifiers_) == 1:
        estimator = estimator.calibrated_classifiers_[0].estimator
    return getattr(estimator, "coef_", None)
