"""Splitting statements into train, validation and test sets: stratified by label, groups kept whole."""

import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from pipeline.data.validation import GROUP, LABEL, key_index
from pipeline.errors import UserInputError

SPLIT_NAMES = ("train", "validation", "test")


def label_counts(counts: pd.Series) -> str:
    """'for' (2), 'none' (1): the counts as the user reads them, not as numpy prints them."""
    return ", ".join(f"{label!r} ({count})" for label, count in counts.items())


def hold_out_stratified(frame: pd.DataFrame, size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    kept, held_out = train_test_split(frame, test_size=size, stratify=frame[LABEL], random_state=seed)
    return kept.sort_index(), held_out.sort_index()


def hold_out_groups(frame: pd.DataFrame, size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out about `size` of the rows as whole groups, balancing labels across folds.

    StratifiedGroupKFold only makes equal folds, so one fold of round(1 / size) is held out.
    """
    folds = max(2, round(1 / size))
    if frame[GROUP].nunique() < folds:
        raise UserInputError(
            f"only {frame[GROUP].nunique()} distinct groups (data.group_column) for a {size:.0%} hold-out; "
            f"need at least {folds}, or set data.group_column=null"
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept_rows, held_out_rows = next(splitter.split(frame, frame[LABEL], groups=frame[GROUP]))
    return frame.iloc[kept_rows].sort_index(), frame.iloc[held_out_rows].sort_index()


def hold_out(frame: pd.DataFrame, size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (hold_out_groups if GROUP in frame else hold_out_stratified)(frame, size, seed)


def split_statements(
    frame: pd.DataFrame, validation_size: float, test_size: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Split into train / validation / test; with a `group` column no group spans two splits."""
    if not (0 < test_size < 1 and 0 < validation_size < 1 and test_size + validation_size < 1):
        raise UserInputError(
            f"split.test_size={test_size} and split.validation_size={validation_size}: "
            "expected two fractions between 0 and 1 whose sum is below 1"
        )
    too_rare = frame[LABEL].value_counts()
    too_rare = too_rare[too_rare < len(SPLIT_NAMES)]
    if not too_rare.empty:
        raise UserInputError(
            f"label(s) {label_counts(too_rare)} have fewer than {len(SPLIT_NAMES)} statements; "
            "every label needs at least one statement in each split"
        )
    rest, test = hold_out(frame, test_size, seed)
    # The validation share is of the whole data set, so rescale it to the rows left after the test hold-out.
    train, validation = hold_out(rest, validation_size / (1 - test_size), seed)
    return {"train": train, "validation": validation, "test": test}


def hold_out_validation(train: pd.DataFrame, validation_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """For data with a fixed test split but no validation split: hold out part of the training rows."""
    if not 0 < validation_size < 1:
        raise UserInputError(
            f"data.split.validation_size={validation_size}: expected a fraction between 0 and 1 of the training rows"
        )
    too_rare = train[LABEL].value_counts()
    too_rare = too_rare[too_rare < 2]
    if not too_rare.empty:
        raise UserInputError(
            f"label(s) {label_counts(too_rare)} have fewer than 2 training statements; every label needs at least one "
            "statement in train and one in validation"
        )
    kept, validation = hold_out(train, validation_size, seed)
    return {"train": kept, "validation": validation}


def drop_held_out_duplicates(splits: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Keep a statement a fixed split's files share in the split that is reported on: drop the validation rows that
    repeat a test statement, and the training rows that repeat a validation or test one. With the same label: a
    statement labelled differently in two splits is refused before (pipeline.data.split_checks).

    The splits are validated rows (pipeline.data.validation.validate_source), which carry their statement keys' digests.
    Returns the splits and how many rows train and validation lost.
    """
    test = key_index(splits["test"])
    validation = splits["validation"][~key_index(splits["validation"]).isin(test)]
    train = splits["train"][~key_index(splits["train"]).isin(key_index(validation).append(test))]
    dropped = {"train": len(splits["train"]) - len(train), "validation": len(splits["validation"]) - len(validation)}
    return {"train": train, "validation": validation, "test": splits["test"]}, dropped


def check_every_label_in_each_split(splits: dict[str, pd.DataFrame], labels: list[str]) -> None:
    """A label missing from a split cannot be learnt (train) or scored (validation, test): refuse, naming it."""
    missing = [
        f"{label!r} has no statement in {name}"
        for name in SPLIT_NAMES
        for label in labels
        if not (splits[name][LABEL] == label).any()
    ]
    if missing:
        raise UserInputError(
            "every label in data.labels needs statements in train, validation and test, but "
            + "; ".join(missing)
            + " (add labelled statements, drop the label from data.labels, or change data.split)"
        )
