"""Checking labelled statements before anything is trained on them, and dropping duplicates."""

import logging
from dataclasses import dataclass

import pandas as pd

from pipeline.errors import DataValidationError

log = logging.getLogger(__name__)

# How many offending rows each problem lists before it says "and N more".
EXAMPLES_PER_PROBLEM = 10

# The standard column names every later stage uses, whatever the user's file calls them.
ID, TEXT, LABEL, GROUP, TARGET, SPLIT = "id", "text", "label", "group", "target", "split"


@dataclass(frozen=True)
class StatementColumns:
    """Where each role lives in the user's file; `None` for optional roles the file does not have."""

    text: str
    label: str
    id: str | None = None
    group: str | None = None
    target: str | None = None
    split: str | None = None

    def by_role(self) -> dict[str, str]:
        roles = {
            ID: self.id,
            TEXT: self.text,
            LABEL: self.label,
            GROUP: self.group,
            TARGET: self.target,
            SPLIT: self.split,
        }
        return {role: column for role, column in roles.items() if column}


@dataclass(frozen=True)
class DeduplicationCounts:
    exact: int
    normalised: int


def normalise_text(text: str) -> str:
    """Case- and whitespace-insensitive form, used to find near-identical statements."""
    return " ".join(text.split()).casefold()


def describe_rows(frame: pd.DataFrame, mask: pd.Series) -> str:
    rows = frame.loc[mask]
    shown = [f"row {index} (id {row[ID]})" for index, row in rows.head(EXAMPLES_PER_PROBLEM).iterrows()]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def missing_column_problems(frame: pd.DataFrame, columns: StatementColumns) -> list[str]:
    missing = [column for column in columns.by_role().values() if column not in frame.columns]
    if not missing:
        return []
    return [
        f"missing column(s) {missing}; the file has {list(frame.columns)} "
        "(set data.text_column, data.label_column, data.id_column, data.group_column, data.target_column "
        "or data.split.column)"
    ]


def to_standard_columns(frame: pd.DataFrame, columns: StatementColumns) -> pd.DataFrame:
    """Rename the user's columns to the standard names; rows are numbered from 1 as in a spreadsheet."""
    renamed = frame[list(columns.by_role().values())].rename(columns={v: k for k, v in columns.by_role().items()})
    renamed.index = pd.RangeIndex(1, len(renamed) + 1, name="row")
    if ID not in renamed:
        renamed.insert(0, ID, [f"row-{n}" for n in renamed.index])
    renamed[ID] = renamed[ID].astype(str)
    return renamed


def empty_text_problems(frame: pd.DataFrame) -> list[str]:
    empty = frame[TEXT].isna() | (frame[TEXT].astype(str).str.strip() == "")
    if not empty.any():
        return []
    return [f"empty or whitespace-only text in {describe_rows(frame, empty)}; every statement needs text"]


def empty_target_problems(frame: pd.DataFrame) -> list[str]:
    empty = frame[TARGET].isna() | (frame[TARGET].astype(str).str.strip() == "")
    if not empty.any():
        return []
    return [f"empty target (data.target_column) in {describe_rows(frame, empty)}; every statement needs its target"]


def unknown_label_problems(frame: pd.DataFrame, labels: list[str]) -> list[str]:
    unknown = ~frame[LABEL].astype(str).isin(labels) | frame[LABEL].isna()
    if not unknown.any():
        return []
    values = sorted(frame.loc[unknown, LABEL].astype(str).unique())
    return [f"label(s) {values} outside the configured set {labels} (data.labels) in {describe_rows(frame, unknown)}"]


def statement_keys(frame: pd.DataFrame) -> pd.Series:
    """What makes two rows the same statement: the normalised text and, where the data has one, the target."""
    keys = frame[TEXT].astype(str).map(normalise_text)
    if TARGET in frame:
        keys = frame[TARGET].astype(str).map(normalise_text) + "\x1f" + keys
    return keys


def conflicting_label_problems(frame: pd.DataFrame) -> list[str]:
    """The same statement (ignoring case and spacing) labelled differently cannot be learnt from."""
    keys = statement_keys(frame)
    label_counts = frame.groupby(keys)[LABEL].nunique()
    conflicting = label_counts[label_counts > 1].index
    problems = []
    for key in conflicting[:EXAMPLES_PER_PROBLEM]:
        rows = frame[keys == key]
        listed = ", ".join(f"{row[ID]} ({row[LABEL]})" for _, row in rows.iterrows())
        problems.append(f"the same text has different labels in ids {listed}: {rows[TEXT].iloc[0][:80]!r}")
    if len(conflicting) > EXAMPLES_PER_PROBLEM:
        problems.append(f"... and {len(conflicting) - EXAMPLES_PER_PROBLEM} more texts with conflicting labels")
    return problems


def drop_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, DeduplicationCounts]:
    """Keep the first of statements repeated with the same label, exactly or up to case and spacing."""
    exact = frame.duplicated(subset=[TEXT, LABEL, TARGET] if TARGET in frame else [TEXT, LABEL])
    without_exact = frame[~exact]
    normalised = without_exact.assign(_key=statement_keys(without_exact)).duplicated(subset=["_key", LABEL])
    kept = without_exact[~normalised]
    return kept, DeduplicationCounts(exact=int(exact.sum()), normalised=int(normalised.sum()))


def validate_statements(frame: pd.DataFrame, columns: StatementColumns, labels: list[str], source: str) -> pd.DataFrame:
    """Return the statements in standard columns, deduplicated, or raise naming every problem in `source`."""
    problems = missing_column_problems(frame, columns)
    if problems:
        raise DataValidationError(f"{source}: " + problems[0])
    if frame.empty:
        raise DataValidationError(f"{source}: no statements (the file has a header but no rows)")
    statements = to_standard_columns(frame, columns)
    problems = empty_text_problems(statements) + unknown_label_problems(statements, labels)
    if TARGET in statements:
        problems += empty_target_problems(statements)
    if not problems:
        statements[TEXT] = statements[TEXT].astype(str)
        if TARGET in statements:
            statements[TARGET] = statements[TARGET].astype(str)
        statements[LABEL] = statements[LABEL].astype(str)
        problems = conflicting_label_problems(statements)
    if problems:
        raise DataValidationError(f"{source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    kept, dropped = drop_duplicates(statements)
    log.info(
        "dropped %d exact and %d case/whitespace duplicate(s) with the same label; %d statements remain",
        dropped.exact,
        dropped.normalised,
        len(kept),
    )
    return kept
