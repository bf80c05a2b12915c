"""The real-text check: labelled quotes from outside the corpus, scored in every evaluation and never trained on.

The shipped data set names `data/seed_quotes.csv` (the six quotes of the founding article) in `data.extra_eval`;
any other file of labelled quotes can be added: `data.extra_eval=[data/seed_quotes.csv,my_quotes.csv]`. Each file
gets its own metrics, named after the file: `seed_quotes_correct`, `seed_quotes_total`, `seed_quotes_accuracy`,
`seed_quotes_macro_f1`. These files are evaluation sets only: nothing here, or anywhere, adds them to training data.

A data set with a stance target (`data.target_column`, e.g. SemEval's `Target`) trains models that read the target
beside the text (one model per target with `model.per_target`): its extra files need the target column too (the
data set's own name for it, or `target`), and a file without it is refused with a one-line error.
"""

from pathlib import Path

import pandas as pd
from sklearn.metrics import f1_score

from pipeline.data.text_files import check_utf8, first_row_number
from pipeline.data.validation import without_surrounding_spaces
from pipeline.errors import UserInputError

# The statement's column: the data set's own text column, else `quote` (as in data/seed_quotes.csv) or `text`.
TEXT_COLUMNS = ("quote", "text")
# The stance target's column: the data set's own target column, else `target`.
TARGET_COLUMNS = ("target",)
READERS = {
    ".csv": pd.read_csv,
    ".tsv": lambda path: pd.read_csv(path, sep="\t"),
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".parquet": pd.read_parquet,
}


# A data config copied from the shipped one keeps its seed quotes, whose columns and labels are the shipped corpus's.
NOT_THIS_DATA_SET = " (data.extra_eval lists quotes labelled like this data set; data.extra_eval=[] for none)"


def eval_set_name(path: str) -> str:
    return Path(path).stem


def read_labelled_quotes(
    path: str, text_column: str, label_column: str, labels: list[str], target_column: str | None = None
) -> pd.DataFrame:
    """`text` and `label` columns (and `target`, for a data set with targets) from a file of labelled quotes;
    a UserInputError naming what is wrong."""
    location = Path(path)
    if location.suffix.lower() not in READERS:
        raise UserInputError(f"data.extra_eval: {path}: unsupported file type; expected one of {', '.join(READERS)}")
    if not location.is_file():
        raise UserInputError(f"data.extra_eval: {path}: no such file")
    if location.suffix.lower() != ".parquet":
        check_utf8(location)
    frame = READERS[location.suffix.lower()](location)
    texts = [column for column in (text_column, *TEXT_COLUMNS) if column in frame.columns]
    if not texts or label_column not in frame.columns:
        raise UserInputError(
            f"{path}: expected a text column ({' or '.join(dict.fromkeys((text_column, *TEXT_COLUMNS)))}) and a "
            f"{label_column!r} column; got columns {list(frame.columns)}{NOT_THIS_DATA_SET}"
        )
    labels_given = without_surrounding_spaces(frame[label_column], label_column)
    quotes = pd.DataFrame({"text": frame[texts[0]].astype(str), "label": labels_given})
    first_row = first_row_number(location.suffix.lower())
    if target_column:
        quotes.insert(1, "target", stance_targets(path, frame, target_column, first_row))
    unknown = quotes[~quotes["label"].isin(labels)]
    if len(unknown):
        row = int(unknown.index[0]) + first_row
        raise UserInputError(
            f"{path}: row {row}: label {unknown['label'].iloc[0]!r} is not one of {labels} "
            f"({len(unknown)} row(s) with unknown labels){NOT_THIS_DATA_SET}"
        )
    return quotes


def stance_targets(path: str, frame: pd.DataFrame, target_column: str, first_row: int) -> pd.Series:
    """The quotes' stance targets: the data set's models cannot score a quote without its target."""
    names = list(dict.fromkeys((target_column, *TARGET_COLUMNS)))
    found = [column for column in names if column in frame.columns]
    if not found:
        raise UserInputError(
            f"{path}: the data set's models read a stance target (data.target_column={target_column}): expected a "
            f"{' or '.join(map(repr, names))} column; got columns {list(frame.columns)}{NOT_THIS_DATA_SET}"
        )
    targets = frame[found[0]]
    empty = targets.isna() | (targets.astype(str).str.strip() == "")
    if empty.any():
        row = int(empty.to_numpy().nonzero()[0][0]) + first_row
        raise UserInputError(f"{path}: row {row}: empty {found[0]!r}; every quote needs its stance target")
    return without_surrounding_spaces(targets.astype(str), found[0])


def score_quotes(classifier, quotes: pd.DataFrame, labels: list[str]) -> tuple[dict[str, float], pd.DataFrame]:
    """Metrics (correct, total, accuracy, macro-F1 over the labels present) and one row per quote."""
    predictions = classifier.predict(quotes[[column for column in ("text", "target") if column in quotes]])
    correct = int((predictions == quotes["label"].to_numpy()).sum())
    present = [label for label in labels if label in set(quotes["label"])]
    metrics = {
        "correct": float(correct),
        "total": float(len(quotes)),
        "accuracy": correct / len(quotes) if len(quotes) else 0.0,
        "macro_f1": float(f1_score(quotes["label"], predictions, labels=present, average="macro", zero_division=0)),
    }
    return metrics, quotes.assign(predicted=predictions)


def check_extra_eval_files(data) -> None:
    """Read every data.extra_eval file as evaluation will, so that a file that does not fit the data set stops
    the pipeline before training rather than after it."""
    for path in data.get("extra_eval") or []:
        read_labelled_quotes(path, data.text_column, data.label_column, list(data.labels), data.get("target_column"))


def real_text_checks(cfg, classifier) -> dict[str, tuple[dict[str, float], pd.DataFrame]]:
    """For every file in data.extra_eval: its name -> (metrics, per-quote predictions)."""
    labels = list(cfg.data.labels)
    results = {}
    for path in cfg.data.get("extra_eval") or []:
        quotes = read_labelled_quotes(
            path, cfg.data.text_column, cfg.data.label_column, labels, cfg.data.get("target_column") or None
        )
        results[eval_set_name(path)] = score_quotes(classifier, quotes, labels)
    return results


def flat_metrics(results: dict, prefix: str = "") -> dict[str, float]:
    """{"seed_quotes_accuracy": 0.67, ...}, ready for MLflow."""
    return {
        f"{prefix}{name}_{metric}": value for name, (metrics, _) in results.items() for metric, value in metrics.items()
    }


def log_real_text_checks(cfg, classifier, prefix: str = "", step: int = 0) -> dict[str, float]:
    """Score every real-text set, log the metrics (at `step`, that of the model scored) and per-quote predictions to
    the active MLflow run; the metrics."""
    from pipeline import tracking

    results = real_text_checks(cfg, classifier)
    metrics = flat_metrics(results, prefix)
    if metrics:
        tracking.log_metrics(metrics, step=step)
        for name, (_, predictions) in results.items():
            tracking.log_table(predictions, f"real_text/{prefix}{name}_predictions.json")
    return metrics
