"""Labelled statements as read, before validation, handed out a batch of rows at a time.

The prepare stage reads a data set through `datasets`, which keeps it as a memory-mapped Arrow table; its text column
is the one large column, so it is read only in batches of `BATCH_ROWS` rows and never held whole as Python or pandas
objects. A pandas frame (the frame-level `validate_statements`) is read through the same interface.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

# Rows per batch of text read at once; tests lower it so that a small table spans several batches.
BATCH_ROWS = 10_000


class ArrowStatements:
    """A table in the user's columns, held by Arrow (memory-mapped when `datasets` loaded it).

    `first_row` is the number messages give its first row: 2 for a CSV file, whose row 1 is its header."""

    def __init__(self, table: pa.Table, first_row: int = 1):
        self.table, self.first_row = table, first_row

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def __len__(self) -> int:
        return self.table.num_rows

    def columns(self, names: list[str]) -> pd.DataFrame:
        """Whole columns at once, for the small ones (ids, labels, groups): converted in one piece, each column gets
        the dtype a conversion of the whole table gives it (an integer column with gaps is float in every row)."""
        return self.table.select(names).to_pandas()

    def batches(self, name: str) -> Iterator[pd.Series]:
        column = self.table.column(name)
        for start in range(0, len(self), BATCH_ROWS):
            yield column.slice(start, BATCH_ROWS).to_pandas()

    def take(self, name: str, positions: np.ndarray) -> pd.Series:
        """The values at 0-based `positions`, in that order (a split's rows: at most one batch of them)."""
        if len(positions) == 0:
            return self.table.column(name).slice(0, 0).to_pandas()
        # Only the stretch of the table the rows lie in is gathered, not the whole column.
        first, last = int(positions.min()), int(positions.max())
        stretch = self.table.column(name).slice(first, last - first + 1)
        return stretch.take(pa.array(positions - first)).to_pandas()


class FrameStatements:
    """A pandas frame in the user's columns; messages number its rows from `first_row`."""

    def __init__(self, frame: pd.DataFrame, first_row: int = 1):
        self.frame, self.first_row = frame, first_row

    @property
    def column_names(self) -> list[str]:
        return list(self.frame.columns)

    def __len__(self) -> int:
        return len(self.frame)

    def columns(self, names: list[str]) -> pd.DataFrame:
        return self.frame[names].reset_index(drop=True)

    def batches(self, name: str) -> Iterator[pd.Series]:
        column = self.frame[name].reset_index(drop=True)
        for start in range(0, len(column), BATCH_ROWS):
            yield column.iloc[start : start + BATCH_ROWS]

    def take(self, name: str, positions: np.ndarray) -> pd.Series:
        return self.frame[name].iloc[positions].reset_index(drop=True)


StatementSource = ArrowStatements | FrameStatements
