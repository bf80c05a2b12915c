"""Checks across the splits a data set brings (data.split.kind files, column or hub).

Each split is validated on its own first (validation.py); these checks look at what no single split shows. The
same statement labelled differently in two splits, and one id naming different statements in two, are refused as
they are within one file. A group (data.group_column) with statements in two splits is the user's own split, so it is
only warned about. Like validation, the checks work on the small per-row columns and the statement keys' digests;
only the text of a listed conflict is read back.
"""

from collections.abc import Callable

import pandas as pd

from pipeline.data.validation import (
    EXAMPLES_PER_PROBLEM,
    GROUP,
    ID,
    KEY,
    LABEL,
    TARGET,
    ValidatedStatements,
    conflict_problems,
    duplicate_id_problems,
    rows_with_conflicting_labels,
)

# Columns of the rows of all splits together: the split a row is in, and its number in that split's file (two files
# both have a row 2, so the number cannot be the index).
IN_SPLIT, ROW = "in_split", "row_in_split"


def rows_of_all_splits(splits: dict[str, ValidatedStatements]) -> pd.DataFrame:
    """The columns the checks need, of every split's rows, in one frame in split order."""
    parts = []
    for name, split in splits.items():
        columns = [column for column in (ID, LABEL, GROUP, TARGET, *KEY) if column in split.rows]
        part = split.rows[columns].rename_axis(ROW).reset_index()
        part.insert(0, IN_SPLIT, name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def where_in(places: dict[str, str]) -> Callable:
    """Names a row of `rows_of_all_splits` as the user finds it: 'test.csv row 5' (places: where each split is)."""
    return lambda _, row: f"{places[row[IN_SPLIT]]} row {row[ROW]}"


def texts_reader(splits: dict[str, ValidatedStatements]) -> Callable[[pd.DataFrame], list[str]]:
    """Reads back the text of rows of `rows_of_all_splits`, each from its own split's source."""

    def read(rows: pd.DataFrame) -> list[str]:
        texts = pd.Series(index=rows.index, dtype=object)
        for name, part in rows.groupby(IN_SPLIT, sort=False):
            texts.loc[part.index] = splits[name].texts_at(pd.Index(part[ROW])).to_numpy()
        return texts.tolist()

    return read


def problems_across_splits(
    rows: pd.DataFrame, splits: dict[str, ValidatedStatements], places: dict[str, str], ids_given: bool
) -> list[str]:
    """Every statement labelled differently in two splits, and the ids naming different statements in two, among
    `rows` (rows_of_all_splits of `splits`).

    A split has neither within itself (validation refused them), so each one found spans splits. Ids are checked
    only when the data has its own (`ids_given`): numbered ids ('row-2') restart in each file.
    """
    problems = conflict_problems(rows_with_conflicting_labels(rows), texts_reader(splits), where_in(places))
    if ids_given:
        problems += duplicate_id_problems(rows, where_in(places))
    return problems


def groups_across_splits(rows: pd.DataFrame, places: dict[str, str]) -> tuple[int, str]:
    """How many groups have statements in more than one split, and the first few, each with where it is, among
    `rows` (rows_of_all_splits)."""
    if GROUP not in rows:
        return 0, ""
    pairs = rows[[GROUP, IN_SPLIT]].drop_duplicates()
    spread = pairs[pairs[GROUP].duplicated(keep=False)]
    in_splits = spread.groupby(GROUP, sort=False)[IN_SPLIT].agg(list)
    shown = [
        f"{str(group)!r} ({', '.join(places[name] for name in names)})"
        for group, names in in_splits.head(EXAMPLES_PER_PROBLEM).items()
    ]
    more = len(in_splits) - len(shown)
    return len(in_splits), ", ".join(shown) + (f" and {more} more" if more else "")
