"""Tag statements and articles with a trained stance classifier: the code behind `stance-predict` and the Python API.

    from pipeline.inference import load_champion
    model = load_champion()
    model.tag(["We cannot stand by while civilians are shelled.", "The strikes must stop."])
    model.tag_article(open("seeds/000_0a13e2fcd2c43a4f.txt").read())

Labels come from the classifier's own `predict`, as in `mlflow models serve` and `mlflow.pyfunc`, so that the three
agree; the probabilities beside them come from `predict_proba` on the same features, computed once.

Importing this module is cheap: scikit-learn and skops load with the model, and MLflow only for a model that lives in
MLflow, so that tagging one article with a local `.skops` file starts in about a second.
"""

import multiprocessing
import os
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import chain, islice
from pathlib import Path
from typing import TypeVar

import pandas as pd

from pipeline.articles.quotes import DEFAULT_MAX_ARTICLE_MB, Quote, check_article_size, extract_quotes
from pipeline.errors import UserInputError
from pipeline.experiments.tracking_server import INTERACTIVE_TIMEOUT, check_credentials, file_store_mistake
from pipeline.files import sqlite_database_path

DEFAULT_MODEL = "models:/stance-classifier@champion"
TEXT = "text"
TARGET = "target"
LABEL = "label"
QUOTE_COLUMNS = ["text", "start", "end", "speaker", "kind"]
MLMODEL_FILE = "MLmodel"

# "models:/...", "runs:/...", "file:///...", "s3://...": anything with a scheme goes to MLflow. One letter before the
# colon is a Windows drive, not a scheme.
_URI = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]+:/")
T = TypeVar("T")  # what the caller pairs with each batch


def probability_column(label: str) -> str:
    return f"p({label})"


class StanceTagger:
    """A fitted classifier (usually a scikit-learn Pipeline starting with StatementText) and where it came from.

    jobs > 1 spreads large batches over that many worker processes: the character n-grams are computed in pure
    Python, so threads would not help. Rows are tagged independently, so the results are the same.
    """

    # Below this many statements, starting workers (about 2 s) costs more than it saves.
    parallel_min_rows = 4000

    def __init__(self, classifier, source: str = "", jobs: int = 1):
        if not hasattr(classifier, "predict") or not hasattr(classifier, "classes_"):
            raise UserInputError(f"{source or 'the model'}: not a fitted classifier (no predict / classes_)")
        self.classifier = classifier
        self.source = source
        self.jobs = max(1, jobs)
        self.labels = [str(label) for label in classifier.classes_]
        self.has_probabilities = hasattr(classifier, "predict_proba")
        self._workers = None  # started on first use: see workers()
        self.pooled_targets: Counter = Counter()
        self.unseen_targets: Counter = Counter()
        from pipeline.features.text_input import input_columns, training_targets

        # The user's own column names the model was trained with; `target_column` is None without stance targets.
        self.text_column, self.target_column = input_columns(classifier)
        # A model of all targets: the targets it was trained on, matched as a per-target model matches them. None for
        # a per-target model (it counts its own) and for models without targets or saved before they were kept.
        seen = None if hasattr(classifier, "without_own_classifier") else training_targets(classifier)
        self.known_targets = None
        if seen:
            from pipeline.models.per_target import target_key

            self.known_targets = {target_key(target) for target in seen}

    def __repr__(self) -> str:
        target = f", target_column={self.target_column!r}" if self.target_column else ""
        return f"StanceTagger({self.source!r}, labels={self.labels}{target})"

    @property
    def needs_target(self) -> bool:
        return self.target_column is not None

    def with_targets(self, frame: pd.DataFrame, target) -> pd.DataFrame:
        """`frame` with a `target` column for a model trained with stance targets; refuses when none is given."""
        if not self.needs_target:
            return frame
        if target is not None:
            values = [target] * len(frame) if isinstance(target, str) else list(target)
            if len(values) != len(frame):
                raise ValueError(f"got {len(values)} targets for {len(frame)} statements")
            return self.counting_pooled(frame.assign(**{TARGET: values}))
        for column in (self.target_column, TARGET):
            if column in frame.columns:
                return self.counting_pooled(frame.rename(columns={column: TARGET}) if column != TARGET else frame)
        raise ValueError(
            f"{self.source or 'this model'} was trained with stance targets (column {self.target_column!r}): "
            f"pass target=... or a DataFrame with a {self.target_column!r} column"
        )

    def counting_pooled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame`, after counting its statements whose target a per-target model has no classifier of its own for
        (`pooled_targets`: stance-predict says which, since the model fitted on all targets tags them), or, for one
        model of all targets, a target it never saw in training (`unseen_targets`)."""
        targets = frame[TARGET].dropna()
        if hasattr(self.classifier, "without_own_classifier"):
            self.pooled_targets.update(self.classifier.without_own_classifier(targets))
        elif self.known_targets is not None:
            from pipeline.models.per_target import target_key

            given = Counter(map(str, targets))  # each distinct target looked up once, not once per statement
            self.unseen_targets.update(
                {target: count for target, count in given.items() if target_key(target) not in self.known_targets}
            )
        return frame

    @property
    def output_columns(self) -> list[str]:
        probabilities = [probability_column(label) for label in self.labels] if self.has_probabilities else []
        return [LABEL, *probabilities]

    def predict(self, statements: pd.DataFrame) -> pd.DataFrame:
        """`label` and one `p(<label>)` column per class for a frame with a `text` column, indexed like it."""
        if self.jobs > 1 and len(statements) >= self.parallel_min_rows:
            return self.predict_in_workers(statements)
        return self.predict_here(statements)

    def workers(self):
        """The worker processes, started once per tagger.

        Where processes can fork (Linux), the workers are copies of this one with the classifier already loaded:
        nothing to import, pickle or unpickle, so they start in a fraction of a second instead of seconds.
        Elsewhere, loky's workers receive the classifier once, when they start.
        """
        if self._workers is not None:
            return self._workers
        if "fork" in multiprocessing.get_all_start_methods():
            global _worker_tagger
            _worker_tagger = StanceTagger(self.classifier, self.source)  # what the forked workers inherit
            self._workers = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork"))
            self._workers.submit(int).result()  # fork now, while the global holds this tagger's classifier
        else:
            from joblib.externals.loky import get_reusable_executor

            self._workers = get_reusable_executor(
                max_workers=self.jobs, initializer=start_worker, initargs=(self.classifier, self.source)
            )
        return self._workers

    def predict_in_workers(self, statements: pd.DataFrame) -> pd.DataFrame:
        size = -(-len(statements) // self.jobs)
        parts = [statements.iloc[start : start + size] for start in range(0, len(statements), size)]
        return pd.concat([predicted for _, predicted in self.predict_batches(enumerate(parts))])

    def predict_batches(self, batches: Iterable[tuple[T, pd.DataFrame]]) -> Iterator[tuple[T, pd.DataFrame]]:
        """(key, predictions) for each (key, statements), in order.

        With jobs > 1, whole batches go to the worker processes, and the next batches are read while they work:
        the caller's reading and writing overlap the features and the classifier instead of waiting for them.
        """
        batches = iter(batches)
        first = list(islice(batches, 2))
        if self.jobs == 1 or (len(first) == 1 and len(first[0][1]) < self.parallel_min_rows):
            for key, statements in chain(first, batches):
                yield key, self.predict_here(statements)
            return
        executor, pending = self.workers(), deque()
        for key, statements in chain(first, batches):
            pending.append((key, executor.submit(predict_in_worker, statements)))
            # One batch queued per worker beyond the one it works on; more would only hold rows in memory.
            if len(pending) > 2 * self.jobs:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        while pending:
            done_key, future = pending.popleft()
            yield done_key, future.result()

    def predict_here(self, statements: pd.DataFrame) -> pd.DataFrame:
        if len(statements) == 0:
            empty = {column: pd.Series(dtype=object if column == LABEL else float) for column in self.output_columns}
            return pd.DataFrame(empty, index=statements.index)
        classifier, features = self.classifier, statements
        if hasattr(classifier, "steps") and len(classifier.steps) > 1:
            # What Pipeline.predict does, but the (costly) text features are computed once for labels and probabilities.
            features = classifier[:-1].transform(statements)
            classifier = classifier.steps[-1][1]
        result = pd.DataFrame({LABEL: classifier.predict(features).astype(str)}, index=statements.index)
        if self.has_probabilities:
            probabilities = classifier.predict_proba(features)
            for index, label in enumerate(self.labels):
                result[probability_column(label)] = probabilities[:, index]
        return result

    def tag(self, statements, target=None) -> pd.DataFrame:
        """One row per statement: `text`, (`target`,) `label`, `p(<label>)`...

        `statements`: a list or Series of strings, one string, or a DataFrame with a `text` column (or the model's
        own text column). A model trained with stance targets needs `target` (one for all, or one per statement)
        or a target column in the DataFrame. A DataFrame comes back as given (its columns under their own names,
        its index) with the model's columns added.
        """
        frame = self.with_targets(statement_frame(statements, self.text_column), target)
        if taken := [column for column in self.output_columns if column in frame.columns]:
            raise ValueError(f"the statements already have column(s) {taken}; rename them first")
        tagged = pd.concat([frame, self.predict(frame)], axis=1)
        if isinstance(statements, pd.DataFrame):
            tagged = tagged.rename(columns=self.own_column_names(statements, target)).set_axis(statements.index)
        return tagged

    def own_column_names(self, statements: pd.DataFrame, target) -> dict[str, str]:
        """The standard names `tag` read the user's text and target columns under -> the user's own names."""
        names = {}
        if TEXT not in statements.columns and self.text_column in statements.columns:
            names[TEXT] = self.text_column
        read_target = target is None and self.needs_target and TARGET not in statements.columns
        if read_target and self.target_column in statements.columns:
            names[TARGET] = self.target_column
        return names

    def tag_quotes(self, quotes: pd.DataFrame, target=None) -> pd.DataFrame:
        """The quote rows (see `quote_frame`) with `label` and the probabilities added."""
        quotes = self.with_targets(quotes, target)
        return pd.concat([quotes, self.predict(quotes)], axis=1)

    def tag_article(
        self,
        article: str,
        include_indirect: bool = False,
        target: str | None = None,
        max_mb: float = DEFAULT_MAX_ARTICLE_MB,
    ) -> pd.DataFrame:
        """One row per quote: `text`, `start`, `end`, `speaker`, `kind`, (`target`,) `label`, `p(<label>)`...

        An article above `max_mb` megabytes (UTF-8) is refused with a UserInputError.
        """
        check_article_size(len(article.encode("utf-8")), "the article", max_mb)
        quotes = quote_frame(extract_quotes(article, include_indirect=include_indirect))
        return self.tag_quotes(quotes, target)


_worker_tagger: StanceTagger | None = None


def start_worker(classifier, source: str) -> None:
    global _worker_tagger
    _worker_tagger = StanceTagger(classifier, source)


def predict_in_worker(statements: pd.DataFrame) -> pd.DataFrame:
    return _worker_tagger.predict_here(statements)


def statement_frame(statements, text_column: str = TEXT) -> pd.DataFrame:
    if isinstance(statements, str):
        statements = [statements]
    if isinstance(statements, pd.DataFrame):
        if TEXT not in statements.columns and text_column in statements.columns:
            statements = statements.rename(columns={text_column: TEXT})
        if TEXT not in statements.columns:
            raise ValueError(f"expected a column {text_column!r}; got columns {list(statements.columns)}")
        frame = statements.reset_index(drop=True)
    elif isinstance(statements, Iterable):
        frame = pd.DataFrame({TEXT: list(statements)})
    else:  # one bare value (None, a number): refused below as the model refuses it, by what it is
        frame = pd.DataFrame({TEXT: [statements]})
    from pipeline.features.text_input import check_statements

    check_statements(frame[TEXT])
    return frame


def quote_frame(quotes: Iterable[Quote]) -> pd.DataFrame:
    """Quotes as rows: text, start, end, speaker, kind (the paragraph number is left out)."""
    rows = [(quote.text, quote.start, quote.end, quote.speaker, quote.kind) for quote in quotes]
    frame = pd.DataFrame(rows, columns=QUOTE_COLUMNS)
    return frame.astype({"start": "int64", "end": "int64"})


# --- Loading a model -------------------------------------------------------------------------------------------------


def is_uri(reference: str) -> bool:
    return bool(_URI.match(reference))


def load_model(
    reference: str | os.PathLike = DEFAULT_MODEL,
    tracking_uri: str | None = None,
    jobs: int = 1,
    trust_model: bool = False,
) -> StanceTagger:
    """A classifier from MLflow (`models:/name@alias`, `models:/name/3`, `models:/m-...`, `runs:/<id>/<model name>`),
    a local MLflow model directory, or a `.skops` file saved by the train stage.

    The classifier is loaded with the project's own list of trusted types; a model needing anything else, or
    shipping its own code, is refused (UserInputError). trust_model=True loads such a model anyway through
    MLflow's loader: that runs code from the model's author.
    """
    reference = os.fspath(reference)
    if is_uri(reference):
        return StanceTagger(load_from_mlflow(reference, tracking_uri, trust_model), reference, jobs)
    path = Path(reference)
    if path.is_dir():
        if not (path / MLMODEL_FILE).is_file():
            raise UserInputError(f"{path}: not an MLflow model directory (no {MLMODEL_FILE} file)")
        if not trust_model:
            from pipeline.models.trusted_loading import load_model_dir

            return StanceTagger(load_model_dir(path, reference), reference, jobs)
        return StanceTagger(load_from_mlflow(str(path.resolve()), tracking_uri, trust_model), reference, jobs)
    if path.is_file():
        return StanceTagger(load_skops(path, trust_model), reference, jobs)
    raise UserInputError(
        f"{reference}: no such file or directory; expected a .skops file, an MLflow model directory "
        "or a URI such as models:/stance-classifier@champion"
    )


def prepared_champion() -> str:
    """The champion of the data set prepared in this project folder (after `make run OVERRIDES="data=mine"`, that
    data set's), as `python -m pipeline.compare` defaults to its experiment; DEFAULT_MODEL where none is."""
    from pipeline.data.prepared_data import prepared_registered_model

    name = prepared_registered_model()
    return f"models:/{name}@champion" if name else DEFAULT_MODEL


def load_champion(tracking_uri: str | None = None, jobs: int = 1, trust_model: bool = False) -> StanceTagger:
    """The champion of the data set prepared in this folder, as stance-predict's default model (with the shipped
    corpus, models:/stance-classifier@champion), from tracking_uri, MLFLOW_TRACKING_URI or sqlite:///mlflow.db."""
    model_uri = prepared_champion()
    tagger = load_model(model_uri, tracking_uri, jobs, trust_model)
    check_holds_prepared_data(model_uri)
    return tagger


def check_holds_prepared_data(model_uri: str) -> None:
    """Refuse the prepared data set's champion (just loaded, from the store now set) when its registered model holds
    another data set. Prepare takes a data set whose data.registered_model names another data set's model; the train
    stage refuses it then, but the prepared folder names that model, whose answers are another data set's."""
    from pipeline.data.prepared_data import DEFAULT_PROCESSED, read_manifest

    manifest = read_manifest(DEFAULT_PROCESSED)
    if manifest is None:
        return
    from mlflow.exceptions import MlflowException

    from pipeline import tracking

    name, prepared = model_uri.removeprefix("models:/").rsplit("@", 1)[0], str(manifest["data"].get("name"))
    try:
        holds = (tracking.registered_model_identity(name) or {}).get("dataset")
    except MlflowException:  # an untagged model whose newest version's run was deleted: nothing to tell by
        return
    if holds is not None and holds != prepared:
        raise UserInputError(
            f"{model_uri}: registered model {name!r} holds data set {holds!r}, not {prepared!r}, the data set "
            f"prepared here ({DEFAULT_PROCESSED}/dataset.json names it); give {prepared!r} a registered model of its "
            f"own (data.registered_model=stance-{prepared}) and train it, or name a model with --model"
        )


def load_skops(path: Path, trust_model: bool = False):
    """A classifier from a .skops file: the project's trusted types only, unless trust_model (then any type)."""
    if path.suffix != ".skops":
        raise UserInputError(f"{path}: expected a .skops file saved by the train stage, or an MLflow model")
    from pipeline.models.trusted_loading import load_skops_file

    return load_skops_file(path, trust_model=trust_model)


def missing_sqlite_store(tracking_uri: str) -> Path | None:
    """The file of a local SQLite store that does not exist; MLflow would silently create an empty store there."""
    path = sqlite_database_path(tracking_uri)
    return None if path is None or path.is_file() else path


def load_from_mlflow(model_uri: str, tracking_uri: str | None = None, trust_model: bool = False):
    from pipeline.models import skops_first  # noqa: F401  (skops before MLflow: see the module)

    # isort: split
    from mlflow.exceptions import MlflowException

    from pipeline import tracking

    store = tracking.resolve_tracking_uri(tracking_uri)
    if mistake := file_store_mistake(store):
        raise UserInputError(f"{model_uri}: {mistake}")
    if model_uri.startswith(("models:/", "runs:/")) and (missing := missing_sqlite_store(store)):
        raise UserInputError(
            f"{model_uri}: no MLflow store at {missing} (tracking URI {store}); train a model first (make run), "
            "or name the store (stance-predict --tracking-uri, tracking_uri= in Python), or load a .skops file"
        )
    import mlflow

    mlflow.set_tracking_uri(store)
    try:
        return tracking.load_sklearn_model(model_uri, trust_model)
    except MlflowException as error:
        cause = first_line(error.message).rstrip(".")
        if error.error_code in STORE_ANSWERED:  # not an unreachable server, which would not answer the hint either
            cause += registry_hint(model_uri)
        elif REFUSED_CREDENTIALS.search(cause):
            cause = credentials_problem(store) or cause
        raise UserInputError(f"{model_uri}: could not be loaded from {store}: {cause}") from None
    except OSError as error:  # artifacts deleted or unreadable, store unreachable
        raise UserInputError(f"{model_uri}: could not be loaded from {store}: {error}") from None


# MLflow's message for a server that refused the request's credentials: "... failed with error code 401 != 200".
REFUSED_CREDENTIALS = re.compile(r"error code 40[13]\b")


def credentials_problem(store: str) -> str | None:
    """What the training stages say of credentials the server refuses (which variables to set), or None."""
    try:
        check_credentials(store.rstrip("/"), INTERACTIVE_TIMEOUT)
    except UserInputError as refused:
        return str(refused)
    return None


# How many of a registered model's versions an error lists, newest first.
LISTED_VERSIONS = 5
# MLflow's error codes for a reference the store looked up and found wanting.
STORE_ANSWERED = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def registry_hint(model_uri: str) -> str:
    """For a models:/ URI MLflow could not resolve (a version that does not exist, `/v2`, no version at all, which
    MLflow reads as a logged model's id), what the registry holds under its name; "" when it cannot tell."""
    if not model_uri.startswith("models:/"):
        return ""
    name = re.split(r"[/@]", model_uri.removeprefix("models:/"), maxsplit=1)[0]
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        aliases = client.get_registered_model(name).aliases
        versions = sorted((int(v.version) for v in client.search_model_versions(f"name = '{name}'")), reverse=True)
    except (MlflowException, ValueError):  # no such registered model, or a name the filter cannot quote
        return registered_models_hint(client)
    if not versions:
        return f"; registered model {name!r} has no versions yet"
    listed = ", ".join(map(str, versions[:LISTED_VERSIONS]))
    older = f" and {len(versions) - LISTED_VERSIONS} older" if len(versions) > LISTED_VERSIONS else ""
    named = ", ".join(f"@{alias} (version {version})" for alias, version in sorted(aliases.items()))
    named = f"; aliases {named}" if named else ""
    example = f"models:/{name}@{min(aliases)}" if aliases else f"models:/{name}/{versions[0]}"
    noun = "version" if len(versions) == 1 else "versions"
    return f"; registered model {name!r} has {noun} {listed}{older}{named}: e.g. {example}"


def registered_models_hint(client) -> str:
    """The store's registered models, for a reference to one it does not have; "" when the store does not answer."""
    from mlflow.exceptions import MlflowException

    try:
        names = ", ".join(repr(model.name) for model in client.search_registered_models(max_results=20))
    except MlflowException:  # a hint only: the error it adds to is reported all the same
        return ""
    return f"; the store's registered models: {names}" if names else "; the store has no registered model yet"


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
