"""Reading labelled statements from a local file or a dataset hub, through `datasets.load_dataset`."""

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import pandas as pd
import pyarrow as pa

from pipeline.data.text_files import (
    UTF8,
    check_csv_header,
    check_encoding,
    field_delimiter,
    first_invalid_json_line,
    first_row_number,
)
from pipeline.errors import UserInputError

log = logging.getLogger(__name__)
datasets.disable_progress_bars()  # one line in the log says how many rows were read

# File suffix -> the `datasets` packaged builder that reads it.
BUILDERS_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}
TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl"}
# data.quoting -> the csv module's constant. "none": tab-separated files whose text holds stray quote characters.
QUOTING = {"minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


@dataclass(frozen=True)
class TextFormat:
    """How a local file of statements is written (the data.encoding, data.quoting, data.format and
    data.delimiter settings); a hub dataset ignores it."""

    encoding: str = UTF8
    quoting: str = "minimal"
    file_format: str | None = None
    delimiter: str | None = None

    @classmethod
    def from_config(cls, data) -> "TextFormat":
        return cls(data.encoding, data.quoting, data.get("format"), data.get("delimiter"))

    def suffix(self, path: Path) -> str:
        """The file type: data.format when set, else the file's own suffix."""
        return f".{self.file_format.lower()}" if self.file_format else path.suffix.lower()


def first_row_of(location: str, text_format: TextFormat) -> int:
    """The number messages give a data set's first statement (text_files.first_row_number); 1 in a hub dataset."""
    return first_row_number(text_format.suffix(Path(location))) if is_local_file(location) else 1


def is_local_file(location: str) -> bool:
    """A location with a data-file suffix, or naming an existing file, is a local file.

    Anything else goes to `datasets.load_dataset` as it is: a hub dataset name, or a local dataset folder.
    """
    return Path(location).suffix.lower() in BUILDERS_BY_SUFFIX or Path(location).is_file()


def reader_options(suffix: str, encoding: str, quoting: str, delimiter: str | None = None) -> dict:
    if quoting not in QUOTING:
        raise UserInputError(f"data.quoting={quoting!r}: expected one of {', '.join(QUOTING)}")
    if suffix in (".csv", ".tsv"):
        return {"encoding": encoding, "quoting": QUOTING[quoting], "delimiter": field_delimiter(suffix, delimiter)}
    if suffix in (".json", ".jsonl"):
        return {"encoding": encoding}
    return {}


def load_local_file(path: Path, text_format: TextFormat = TextFormat()) -> datasets.Dataset:
    suffix, encoding = text_format.suffix(path), text_format.encoding
    if suffix not in BUILDERS_BY_SUFFIX:
        raise UserInputError(
            f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(sorted(BUILDERS_BY_SUFFIX))} "
            "(data.format names the type of a file whose suffix does not, e.g. data.format=tsv for a .txt file)"
        )
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder; set data.path to a CSV, TSV, JSON Lines or Parquet file")
    if not path.is_file():
        raise UserInputError(f"{path}: no such file (set data.path to a CSV, JSON Lines or Parquet file)")
    if path.stat().st_size == 0:
        raise UserInputError(f"{path}: the file is empty; expected a header row and labelled statements")
    options = reader_options(suffix, encoding, text_format.quoting, text_format.delimiter)
    if suffix in TEXT_SUFFIXES:
        try:
            check_encoding(path, encoding)
        except LookupError:
            raise UserInputError(
                f"data.encoding={encoding!r}: not an encoding Python knows (e.g. utf-8, cp1252)"
            ) from None
    if suffix in (".csv", ".tsv"):
        check_csv_header(path, options["delimiter"], encoding, "data.delimiter", options["quoting"])
    try:
        dataset = datasets.load_dataset(BUILDERS_BY_SUFFIX[suffix], data_files=str(path), split="train", **options)
    except Exception as error:  # datasets wraps parser errors in several exception types
        if suffix in (".json", ".jsonl") and (where := first_invalid_json_line(path, encoding)):
            raise UserInputError(f"{path}: {where}; expected one JSON object per line") from None
        if "corresponds to no data" in str(error):
            found = "no rows below the header" if suffix in (".csv", ".tsv") else "no rows"
            raise UserInputError(f"{path}: {found}; expected labelled statements") from None
        cause = error.__cause__ or error
        # datasets' messages run over several paragraphs; the user gets them on one line.
        detail = " ".join(str(cause).split())
        detail = detail if len(detail) <= 400 else detail[:399] + "…"
        raise UserInputError(f"{path}: could not be parsed as {suffix[1:]}: {detail}") from None
    if len(dataset) == 0:
        raise UserInputError(f"{path}: no rows; expected labelled statements")
    return dataset


def load_hub_dataset(name: str, split: str) -> datasets.Dataset:
    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as error:  # offline, unknown name, or unknown split
        if Path(name).is_dir():
            raise UserInputError(
                f"{name}: is a folder without data files datasets can read; set data.path to a CSV, TSV, "
                "JSON Lines or Parquet file"
            ) from None
        raise UserInputError(
            f"data.path={name!r} is neither a local file nor a loadable dataset ({type(error).__name__}: {error})"
        ) from None
    return dataset


def load_dataset(location: str, split: str = "train", text_format: TextFormat = TextFormat()) -> datasets.Dataset:
    """A local CSV / TSV / JSON Lines / Parquet file, or a hub dataset's `split`, as `datasets` loads it."""
    if is_local_file(location):
        dataset = load_local_file(Path(location), text_format)
    else:
        dataset = load_hub_dataset(location, split)
    log.info("loaded %d rows and columns %s from %s", len(dataset), dataset.column_names, location)
    return dataset


def load_statement_table(location: str, split: str = "train", text_format: TextFormat = TextFormat()) -> pa.Table:
    """The statements as an Arrow table: the memory-mapped cache `datasets` wrote, not a copy in memory."""
    return load_dataset(location, split, text_format).with_format("arrow")[:]


def load_statements(location: str, split: str = "train", text_format: TextFormat = TextFormat()) -> pd.DataFrame:
    """The statements as one pandas frame, for tables small enough to hold whole."""
    return load_dataset(location, split, text_format).to_pandas()
