"""Reading labelled statements from a local file or a dataset hub, through `datasets.load_dataset`."""

import csv
import logging
from pathlib import Path

import datasets
import pandas as pd
import pyarrow as pa

from pipeline.errors import UserInputError
from pipeline.text_files import UTF8, check_csv_header, check_encoding, field_delimiter, first_invalid_json_line

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


def load_local_file(
    path: Path,
    encoding: str = UTF8,
    quoting: str = "minimal",
    file_format: str | None = None,
    delimiter: str | None = None,
) -> datasets.Dataset:
    suffix = f".{file_format.lower()}" if file_format else path.suffix.lower()
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
    options = reader_options(suffix, encoding, quoting, delimiter)
    if suffix in TEXT_SUFFIXES:
        try:
            check_encoding(path, encoding)
        except LookupError:
            raise UserInputError(
                f"data.encoding={encoding!r}: not an encoding Python knows (e.g. utf-8, cp1252)"
            ) from None
    if suffix in (".csv", ".tsv"):
        check_csv_header(path, options["delimiter"], encoding, setting="data.delimiter")
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


def load_dataset(
    location: str,
    split: str = "train",
    encoding: str = UTF8,
    quoting: str = "minimal",
    file_format: str | None = None,
    delimiter: str | None = None,
) -> datasets.Dataset:
    """A local CSV / TSV / JSON Lines / Parquet file, or a hub dataset's `split`, as `datasets` loads it."""
    if is_local_file(location):
        dataset = load_local_file(Path(location), encoding, quoting, file_format, delimiter)
    else:
        dataset = load_hub_dataset(location, split)
    log.info("loaded %d rows and columns %s from %s", len(dataset), dataset.column_names, location)
    return dataset


def load_statement_table(
    location: str,
    split: str = "train",
    encoding: str = UTF8,
    quoting: str = "minimal",
    file_format: str | None = None,
    delimiter: str | None = None,
) -> pa.Table:
    """The statements as an Arrow table: the memory-mapped cache `datasets` wrote, not a copy in memory."""
    return load_dataset(location, split, encoding, quoting, file_format, delimiter).with_format("arrow")[:]


def load_statements(
    location: str,
    split: str = "train",
    encoding: str = UTF8,
    quoting: str = "minimal",
    file_format: str | None = None,
    delimiter: str | None = None,
) -> pd.DataFrame:
    """The statements as one pandas frame, for tables small enough to hold whole."""
    return load_dataset(location, split, encoding, quoting, file_format, delimiter).to_pandas()
