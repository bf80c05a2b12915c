"""Checking labelled statements before anything is trained on them, and dropping duplicates.

The text, the one large column, is read a batch of rows at a time (pipeline.data.statement_source). What is kept per row
is small: the row number, id, label, group, target and split columns, and two 128-bit digests of the text. The
duplicate and conflict decisions are taken on those digests, so a million statements are checked without their text
held as Python objects; the chosen rows' text is read again when the splits are written.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from hashlib import blake2b

import numpy as np
import pandas as pd

from pipeline.data import statement_source
from pipeline.data.statement_source import FrameStatements, StatementSource
from pipeline.errors import DataValidationError

log = logging.getLogger(__name__)

# How many offending rows each problem lists before it says "and N more".
EXAMPLES_PER_PROBLEM = 10

# The standard column names every later stage uses, whatever the user's file calls them.
ID, TEXT, LABEL, GROUP, TARGET, SPLIT = "id", "text", "label", "group", "target", "split"
STANDARD_ORDER = (ID, TEXT, LABEL, GROUP, TARGET, SPLIT)

# 128-bit BLAKE2b digests, each in two unsigned 64-bit columns: EXACT_KEY of the text as it is, KEY of the statement
# key (normalised text, and target). Two different strings share a digest with a probability (about 1e-27 for a
# million rows) far below that of a memory error, so equal digests are taken for equal strings.
EXACT_KEY = ("exact_key_high", "exact_key_low")
KEY = ("key_high", "key_low")
NO_DIGEST = bytes(16)  # for a missing text, which validation refuses anyway


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


@dataclass(frozen=True)
class ValidatedStatements:
    """Validated statements: the small per-row columns and digests in `rows` (indexed by the row number messages use),
    the text left in `source` until a split's rows are read for writing."""

    rows: pd.DataFrame
    source: StatementSource
    text_column: str

    def with_rows(self, rows: pd.DataFrame) -> "ValidatedStatements":
        return replace(self, rows=rows)

    def standard_frame(self, rows: pd.DataFrame | None = None) -> pd.DataFrame:
        """`rows` (all by default) in the standard columns, text included, as the later stages read them."""
        rows = self.rows if rows is None else rows
        texts = self.texts_at(rows.index)
        frame = rows[[column for column in STANDARD_ORDER if column in rows]].copy()
        frame.insert(1, TEXT, texts.set_axis(rows.index))
        return frame

    def texts_at(self, row_numbers: pd.Index) -> pd.Series:
        """The text of the rows messages number so (the source counts from its first_row), in that order."""
        return self.source.take(self.text_column, row_numbers.to_numpy() - self.source.first_row).astype(str)

    def batches(self) -> Iterator[pd.DataFrame]:
        """The standard frame a batch of rows at a time (one empty frame when there are no rows)."""
        size = statement_source.BATCH_ROWS
        for start in range(0, max(len(self.rows), 1), size):
            yield self.standard_frame(self.rows.iloc[start : start + size])


def normalise_text(text: str) -> str:
    """Case- and whitespace-insensitive form, used to find near-identical statements."""
    return " ".join(text.split()).casefold()


def statement_key(text: str, target: str | None) -> str:
    """What makes two rows the same statement: the normalised text and, where the data has one, the target."""
    key = normalise_text(text)
    return key if target is None else normalise_text(target) + "\x1f" + key


def digests(strings: Iterable[str | None]) -> np.ndarray:
    """Each string's 128-bit digest as two uint64 columns."""
    packed = b"".join(
        blake2b(string.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if isinstance(string, str)
        else NO_DIGEST
        for string in strings
    )
    return np.frombuffer(packed, dtype="<u8").reshape(-1, 2)


def statement_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The KEY digests of prepared statements (text, and target where the data has one), as two uint64 columns."""
    targets = frame[TARGET].tolist() if TARGET in frame else [None] * len(frame)
    keys = digests(statement_key(text, target) for text, target in zip(frame[TEXT].tolist(), targets, strict=True))
    return pd.DataFrame(keys, columns=list(KEY), index=frame.index)


def key_index(frame: pd.DataFrame) -> pd.MultiIndex:
    """The statement keys of validated rows, for comparing them across frames."""
    return pd.MultiIndex.from_arrays([frame[KEY[0]], frame[KEY[1]]])


def row_number(index, row: pd.Series) -> str:
    """How a message names a row of one file: by the number its frame is indexed with."""
    return f"row {index}"


def describe_rows(frame: pd.DataFrame, mask: pd.Series, where: Callable = row_number) -> str:
    rows = frame.loc[mask]
    shown = [f"{where(index, row)} (id {row[ID]})" for index, row in rows.head(EXAMPLES_PER_PROBLEM).iterrows()]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def missing_column_problems(found: list[str], columns: StatementColumns) -> list[str]:
    missing = [column for column in columns.by_role().values() if column not in found]
    if not missing:
        return []
    return [
        f"missing column(s) {missing}; the file has {found} "
        "(set data.text_column, data.label_column, data.id_column, data.group_column, data.target_column "
        "or data.split.column)"
    ]


def standard_columns_without_text(source: StatementSource, columns: StatementColumns) -> pd.DataFrame:
    """The small columns under their standard names; rows are numbered from the source's first_row, as messages
    name them (a CSV file's first statement is row 2, after its header, as in a spreadsheet)."""
    roles = {role: column for role, column in columns.by_role().items() if role != TEXT}
    renamed = source.columns(list(roles.values())).rename(columns={v: k for k, v in roles.items()})
    renamed.index = pd.RangeIndex(source.first_row, source.first_row + len(renamed), name="row")
    if ID not in renamed:
        renamed.insert(0, ID, [f"row-{n}" for n in renamed.index])
    renamed[ID] = renamed[ID].astype(str)
    for role in (LABEL, GROUP, TARGET, SPLIT):
        if role in renamed:
            renamed[role] = without_surrounding_spaces(renamed[role], roles[role])
    return renamed


def without_surrounding_spaces(cells: pd.Series, column: str) -> pd.Series:
    """Spreadsheet cells often end in a stray space ('none '); it is no part of a label, group, target or split."""
    if cells.dtype != object and not pd.api.types.is_string_dtype(cells):
        return cells
    stripped = cells.str.strip()
    changed = stripped.notna() & (stripped != cells)
    if not changed.any():
        return cells
    log.info("removed spaces around %d value(s) in column %r", int(changed.sum()), column)
    # Cells that are not strings (numbers in a JSON Lines file) come back from .str as NaN: keep them as they were.
    return stripped.where(stripped.notna(), cells)


def read_text(
    source: StatementSource, text_column: str, targets: pd.Series | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the text, a batch at a time: which rows are empty, and the digests of each row's text
    (EXACT_KEY) and statement key (KEY)."""
    empty, exact, keys = [], [], []
    start = 0
    for batch in source.batches(text_column):
        texts = batch.astype(str)
        empty.append((batch.isna() | (texts.str.strip() == "")).to_numpy(dtype=bool))
        texts = texts.tolist()
        exact.append(digests(texts))
        if targets is None:
            batch_keys = (statement_key(text, None) if isinstance(text, str) else None for text in texts)
        else:
            batch_targets = targets.iloc[start : start + len(texts)].tolist()
            batch_keys = (
                statement_key(text, target) if isinstance(text, str) and isinstance(target, str) else None
                for text, target in zip(texts, batch_targets, strict=True)
            )
        keys.append(digests(batch_keys))
        start += len(texts)
    return np.concatenate(empty), np.concatenate(exact), np.concatenate(keys)


def empty_text_problems(frame: pd.DataFrame, empty: np.ndarray) -> list[str]:
    if not empty.any():
        return []
    return [f"empty or whitespace-only text in {describe_rows(frame, empty)}; every statement needs text"]


def is_empty(cells: pd.Series) -> pd.Series:
    return cells.isna() | (cells.astype(str).str.strip() == "")


# Columns every row needs a value in, with what the user is told when some rows have none. An empty group or split
# cannot be guessed: a group keeps an article's statements in one split, and a split column fixes the test set.
# {column} is the user's own column name, then the setting that names it.
REQUIRED_CELLS = {
    LABEL: "empty label ({column}) in {rows}; every statement needs one of {labels} (data.labels)",
    TARGET: "empty target ({column}) in {rows}; every statement needs its target",
    GROUP: "empty group ({column}) in {rows}; every statement needs its group, or set data.group_column=null",
    SPLIT: "empty split ({column}) in {rows}; every statement needs the name of its split",
}
SETTINGS = {
    LABEL: "data.label_column",
    TARGET: "data.target_column",
    GROUP: "data.group_column",
    SPLIT: "data.split.column",
}


def empty_cell_problems(frame: pd.DataFrame, labels: list[str], columns: StatementColumns) -> list[str]:
    problems = []
    names = columns.by_role()
    for role, message in REQUIRED_CELLS.items():
        if role in frame and (empty := is_empty(frame[role])).any():
            column = f"column {names[role]!r}, {SETTINGS[role]}" if role in names else SETTINGS[role]
            problems.append(message.format(column=column, rows=describe_rows(frame, empty), labels=labels))
    return problems


def unknown_label_problems(frame: pd.DataFrame, labels: list[str]) -> list[str]:
    """Labels outside data.labels (empty labels are reported as empty)."""
    unknown = ~frame[LABEL].astype(str).isin(labels) & ~is_empty(frame[LABEL])
    if not unknown.any():
        return []
    values = sorted(frame.loc[unknown, LABEL].astype(str).unique())
    problem = f"label(s) {values} outside the configured set {labels} (data.labels) in {describe_rows(frame, unknown)}"
    # A label that differs only in case or spacing is a typing slip, not a new label: say which one it means.
    by_key = {label.strip().casefold(): label for label in labels}
    if meant := [
        f"{value!r} for {by_key[value.strip().casefold()]!r}" for value in values if value.strip().casefold() in by_key
    ]:
        problem += f" (labels must match exactly: {', '.join(meant[:3])}?)"
    return [problem]


def duplicate_id_problems(kept: pd.DataFrame, where: Callable = row_number) -> list[str]:
    """Ids name rows in every message and report; two different statements under one id make them ambiguous.

    One row per id and statement is looked at, so that a statement repeated under its id (whole in one file, or in
    two splits) is not an error. `where` names a row in the message (`row_number` for the rows of one file).
    """
    kept = kept.drop_duplicates(subset=[ID, *KEY])
    shared = kept[ID].duplicated(keep=False)
    if not shared.any():
        return []
    ids = sorted(kept.loc[shared, ID].unique())
    listed = ", ".join(repr(value) for value in ids[:EXAMPLES_PER_PROBLEM])
    more = f" and {len(ids) - EXAMPLES_PER_PROBLEM} more" if len(ids) > EXAMPLES_PER_PROBLEM else ""
    return [
        f"{len(ids)} id(s) (data.id_column) each name different statements: {listed}{more}, "
        f"in {describe_rows(kept, shared, where)}; expected one id per statement, "
        "or set data.id_column=null to number rows"
    ]


def conflicting_label_problems(statements: ValidatedStatements) -> list[str]:
    """The same statement (ignoring case and spacing) labelled differently cannot be learnt from."""
    rows = rows_with_conflicting_labels(statements.rows)
    return conflict_problems(rows, lambda firsts: statements.texts_at(firsts.index).tolist(), row_number)


def rows_with_conflicting_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows whose statement key (KEY digests) has more than one label among `frame`'s rows."""
    label_counts = frame.groupby(list(KEY))[LABEL].nunique()
    return frame[key_index(frame).isin(label_counts[label_counts > 1].index)]


def conflict_problems(
    rows: pd.DataFrame, read_texts: Callable[[pd.DataFrame], list[str]], where: Callable = row_number
) -> list[str]:
    """One problem per statement of `rows` (rows_with_conflicting_labels), listing its rows as `where` names them;
    `read_texts` reads back the text of the given rows, the first of each statement, for the key and the message."""
    if rows.empty:
        return []
    firsts = rows[~rows.duplicated(subset=list(KEY))]
    # Listed in the order of their statement keys, as the keys themselves sort.
    texts = read_texts(firsts)
    targets = firsts[TARGET].tolist() if TARGET in firsts else [None] * len(firsts)
    ordered = sorted(
        (statement_key(text, target), text, digest)
        for text, target, digest in zip(texts, targets, key_index(firsts), strict=True)
    )
    problems = []
    for _, text, digest in ordered[:EXAMPLES_PER_PROBLEM]:
        same = rows[(rows[KEY[0]] == digest[0]) & (rows[KEY[1]] == digest[1])]
        listed = ", ".join(f"{where(index, row)} (id {row[ID]}, {row[LABEL]})" for index, row in same.iterrows())
        problems.append(f"the same text has different labels in {listed}: {text[:80]!r}")
    if len(firsts) > EXAMPLES_PER_PROBLEM:
        problems.append(f"... and {len(firsts) - EXAMPLES_PER_PROBLEM} more texts with conflicting labels")
    return problems


def drop_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, DeduplicationCounts]:
    """Keep the first of statements repeated with the same label, exactly or up to case and spacing.

    Within a split only, where a column names each row's split: a statement repeated under two splits is left to
    splitting.drop_held_out_duplicates, which keeps it in the split reported on (test, then validation), as it does
    for a data set's split files. Keeping the first row would keep whichever comes first in the file.
    """
    within = [SPLIT] if SPLIT in frame else []
    exact = frame.duplicated(subset=[*EXACT_KEY, LABEL, *([TARGET] if TARGET in frame else []), *within])
    without_exact = frame[~exact]
    normalised = without_exact.duplicated(subset=[*KEY, LABEL, *within])
    # The exact digests served only this; the rows the splits copy keep the statement keys alone.
    kept = without_exact[~normalised].drop(columns=list(EXACT_KEY))
    return kept, DeduplicationCounts(exact=int(exact.sum()), normalised=int(normalised.sum()))


def validate_source(
    source: StatementSource, columns: StatementColumns, labels: list[str], location: str
) -> ValidatedStatements:
    """The statements deduplicated, their text left in `source`, or raise naming every problem in `location`."""
    problems = missing_column_problems(source.column_names, columns)
    if problems:
        raise DataValidationError(f"{location}: " + problems[0])
    if len(source) == 0:
        raise DataValidationError(f"{location}: no statements (the file has a header but no rows)")
    frame = standard_columns_without_text(source, columns)
    targets = frame[TARGET].astype(str) if TARGET in frame else None
    empty_text, exact_keys, keys = read_text(source, columns.text, targets)
    problems = (
        empty_text_problems(frame, empty_text)
        + empty_cell_problems(frame, labels, columns)
        + unknown_label_problems(frame, labels)
    )
    if not problems:
        if TARGET in frame:
            frame[TARGET] = targets
        frame[LABEL] = frame[LABEL].astype(str)
        frame[list(EXACT_KEY)] = exact_keys
        frame[list(KEY)] = keys
        problems = conflicting_label_problems(ValidatedStatements(frame, source, columns.text))
    if problems:
        raise DataValidationError(f"{location}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    kept, dropped = drop_duplicates(frame)
    if columns.id and (problems := duplicate_id_problems(kept)):
        raise DataValidationError(f"{location}: " + problems[0])
    log.info(
        "dropped %d exact and %d case/whitespace duplicate(s) with the same label; %d statements remain",
        dropped.exact,
        dropped.normalised,
        len(kept),
    )
    return ValidatedStatements(kept, source, columns.text)


def validate_statements(frame: pd.DataFrame, columns: StatementColumns, labels: list[str], source: str) -> pd.DataFrame:
    """Return the statements in standard columns, deduplicated, or raise naming every problem in `source`."""
    return validate_source(FrameStatements(frame), columns, labels, source).standard_frame()
