"""stance-predict: tag every quote in news articles, or every statement in a table, with its stance.

    python -m pipeline.predict seeds/                       # every direct quote in every .txt or .html article
    python -m pipeline.predict statements.csv -o tagged.csv  # a CSV / JSON Lines / Parquet table of statements
    echo "The strikes must stop." | python -m pipeline.predict --lines

A user tool, so argparse rather than Hydra, and heavy imports (scikit-learn, MLflow) wait until a model is loaded.
"""

import argparse
import gc
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd

from pipeline.articles.html_text import CHARSET_PREFIX_BYTES, HTML_SUFFIXES, article_text, declared_charset
from pipeline.articles.quotes import DEFAULT_MAX_ARTICLE_MB, check_article_size, extract_quotes
from pipeline.data.text_files import (
    READ_BLOCK,
    UTF8,
    check_csv_header,
    check_encoding,
    decoded_blocks,
    field_delimiter,
    file_blocks,
    first_row_number,
)
from pipeline.errors import USER_ERROR_EXIT_CODE, UserInputError, exit_on_user_error, reader_stopped_early
from pipeline.experiments.tracking_server import INTERACTIVE_HTTP_BOUNDS, bound_http_retries
from pipeline.files import atomic_path, same_file
from pipeline.inference import (
    DEFAULT_MODEL,
    LABEL,
    TEXT,
    StanceTagger,
    check_holds_prepared_data,
    is_uri,
    load_model,
    prepared_champion,
    probability_column,
    quote_frame,
)
from pipeline.quiet import quiet_stage

ARTICLE_SUFFIXES = {".txt", ".text", ".md", "", *HTML_SUFFIXES}
# What a folder given as input is searched for.
FOLDER_ARTICLES = ("*.txt", *(f"*{suffix}" for suffix in sorted(HTML_SUFFIXES)))
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet"}
FORMATS = ("jsonl", "csv")
STDIN = "-"
STDIN_NAME = "<stdin>"
ENCODING_OPTION = "--encoding"  # named in the hints of files that do not decode
DELIMITER_OPTION = "--delimiter"  # named in the hint of a table separated by another character
ARTICLE = "article"
# 0.8731 rather than 0.8731204918432617: more digits than a calibrated probability can mean.
PROBABILITY_DIGITS = 4


class ArgumentParser(argparse.ArgumentParser):
    """Usage mistakes get the same one-line message and exit code as other bad input."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="stance-predict",
        description="Tag the quotes in news articles, or a table of statements, as pro-intervention, "
        "anti-intervention or neutral, with the probability of each label.",
        epilog="Articles give one row per quote: article, text, start, end, speaker, kind, label, p(<label>)... "
        "A statements table gives its own rows with label and p(<label>)... added. "
        "Exit codes: 0 done, 2 bad input or model (one line on stderr says what and where), 1 unexpected failure.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="PATH",
        help="articles (.txt, or web pages: .html) or folders of them; or one statements table (.csv, .tsv, "
        ".jsonl, .json, .parquet); '-' or nothing: standard input",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="models:/name@alias, models:/name/version, models:/m-<id>, runs:/<run id>/<model name>, an MLflow model "
        "directory or a .skops file (default: the champion of the data set prepared in ./data/processed, else "
        f"{DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--trust-model",
        action="store_true",
        help="load a model that needs types or code beyond the project's own (refused by default): this runs code "
        "from the model's author, so only for models whose author you trust",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store holding the model (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    parser.add_argument("-o", "--output", default=None, help="write here instead of standard output (atomically)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="jsonl (JSON Lines) or csv (default: csv when --output ends in .csv, else jsonl)",
    )
    parser.add_argument(
        "--text-column",
        default=None,
        help="the statements column of a table (default: the model's own text column if the table has it, else text)",
    )
    parser.add_argument(
        "--target-column",
        default=None,
        help="for a model trained with stance targets: the table's target column (default: the model's own target "
        "column if the table has it)",
    )
    parser.add_argument(
        "--target",
        default=None,
        help="for a model trained with stance targets: the one target of every quote or statement, e.g. for articles",
    )
    parser.add_argument(
        "--label-column",
        default=LABEL,
        help="name of the predicted-label column added to a table, e.g. when it already has a 'label' (default: label)",
    )
    parser.add_argument(
        "--input-format",
        choices=sorted(suffix[1:] for suffix in TABLE_SUFFIXES),
        default=None,
        help="read the input as a table of this format whatever its suffix (e.g. tsv for a SemEval .txt file)",
    )
    parser.add_argument(
        DELIMITER_OPTION,
        default=None,
        help="the field separator of a CSV / TSV table, e.g. ';' (default: ',' for .csv, tab for .tsv)",
    )
    parser.add_argument(
        ENCODING_OPTION,
        type=encoding_name,
        default=None,
        help="character encoding of the input files, e.g. cp1252 (default: utf-8, and for a web page the charset "
        "it declares)",
    )
    parser.add_argument(
        "--skip-empty",
        action="store_true",
        help="a table's rows with an empty statement (or target) are written untagged, with an empty label, and "
        "counted in a warning (default: such a table is refused before anything is tagged, naming the rows)",
    )
    parser.add_argument("--lines", action="store_true", help="standard input holds one statement per line")
    parser.add_argument("--indirect", action="store_true", help="also tag indirect speech (X said that ...)")
    parser.add_argument(
        "--max-article-mb",
        type=positive_float,
        default=DEFAULT_MAX_ARTICLE_MB,
        help=f"refuse articles larger than this many megabytes (default: {DEFAULT_MAX_ARTICLE_MB:g})",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=10000, help="statements predicted at once (default: 10000)"
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="worker processes for large inputs; pays off from a few thousand statements (default: 1)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show MLflow's informational messages and warnings"
    )
    return parser


def encoding_name(value: str) -> str:
    import codecs

    try:
        return codecs.lookup(value).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an encoding Python knows (e.g. utf-8, cp1252)") from None


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


# --- Reading input ---------------------------------------------------------------------------------------------------


class NothingToReadError(UserInputError):
    """An empty file, or a web page with no text outside its furniture: skipped in a folder, refused when named."""


def check_file(path: Path, expected: str) -> None:
    if not path.exists():
        raise UserInputError(f"{path}: no such file; expected {expected}")
    if not path.is_file():
        raise UserInputError(f"{path}: not a file; expected {expected}")
    if path.stat().st_size == 0:
        raise NothingToReadError(f"{path}: the file is empty; expected {expected}")


def read_article(path: Path, encoding: str | None = None, max_mb: float = DEFAULT_MAX_ARTICLE_MB) -> str:
    """The article's text; a web page's text without its markup, scripts and page furniture (html_text.py).

    Decoded as `encoding` says; without it, as UTF-8, or a web page as the charset it declares."""
    check_file(path, "an article as UTF-8 text")
    check_article_size(path.stat().st_size, str(path), max_mb)
    page = path.suffix.lower() in HTML_SUFFIXES
    if encoding is None:
        with path.open("rb") as start:
            encoding = (declared_charset(start.read(CHARSET_PREFIX_BYTES)) if page else None) or UTF8
    text = "".join(decoded_blocks(file_blocks(path), str(path), encoding, ENCODING_OPTION))
    if not page:
        return text
    if not (prose := article_text(text)):
        raise NothingToReadError(f"{path}: the web page holds no text outside scripts, styles and page furniture")
    return prose


def read_stdin(max_mb: float | None = DEFAULT_MAX_ARTICLE_MB, encoding: str | None = None) -> str:
    """Standard input as text (UTF-8 unless `encoding`); an article is held to `max_mb`, statements (--lines,
    max_mb None) are not."""
    blocks = iter(lambda: sys.stdin.buffer.read(READ_BLOCK), b"")
    text = "".join(decoded_blocks(blocks, STDIN_NAME, encoding or UTF8, ENCODING_OPTION))
    if max_mb is not None:
        check_article_size(len(text.encode("utf-8")), STDIN_NAME, max_mb)
    if not text.strip():
        raise UserInputError(f"{STDIN_NAME}: standard input is empty; expected an article or, with --lines, statements")
    return text


def read_articles(paths: list[Path], inputs: list[str], args) -> Iterator[tuple[str, str]]:
    """Each article's name and text. A folder's empty file or empty page (a CMS placeholder, a page of menus only)
    is skipped with a warning, as an article without quotes is: one such file must not stop a folder of hundreds.
    A file named outright is the user's choice, and its problem is an error."""
    named_outright = {Path(given) for given in inputs}
    for path in paths:
        try:
            yield str(path), read_article(path, args.encoding, args.max_article_mb)
        except NothingToReadError as error:
            if path in named_outright:
                raise
            warn(f"{error}; skipped")


def article_paths(inputs: list[str], max_mb: float = DEFAULT_MAX_ARTICLE_MB) -> list[Path]:
    """Files as given; folders expanded to their articles (.txt, .html, .htm), in name order. Files named outright
    are checked now."""
    paths = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(child for pattern in FOLDER_ARTICLES for child in path.glob(pattern) if child.is_file())
            if not found:
                raise UserInputError(f"{path}: the folder holds no articles (.txt, .html, .htm)")
            paths.extend(found)
        elif path.suffix.lower() in ARTICLE_SUFFIXES:
            check_file(path, "an article as UTF-8 text")
            check_article_size(path.stat().st_size, str(path), max_mb)
            paths.append(path)
        else:
            raise UserInputError(
                f"{path}: unsupported file type {path.suffix!r}; expected .txt or .html articles or one statements "
                f"table ({', '.join(sorted(TABLE_SUFFIXES))})"
            )
    return paths


class StatementTable:
    """A CSV / TSV / JSON Lines / JSON / Parquet file of statements, read in batches.

    Each batch keeps the file's columns; its index numbers the rows as messages name them: a CSV's
    rows as a spreadsheet shows them (the first statement is row 2), a JSON Lines file's lines, a Parquet file's rows
    from 1.
    """

    def __init__(
        self,
        path: Path,
        text_column: str | None,
        encoding: str = UTF8,
        file_format: str | None = None,
        delimiter: str | None = None,
    ):
        check_file(path, "a table of statements with a header")
        self.path, self.text_column, self.encoding = path, text_column, encoding
        self.suffix = f".{file_format}" if file_format else path.suffix.lower()
        self.separator = field_delimiter(self.suffix, delimiter, DELIMITER_OPTION)
        self.row_name = "line" if self.suffix in (".jsonl", ".ndjson") else "row"
        self.total_rows: int | None = None
        if self.suffix != ".parquet":
            check_encoding(path, encoding, ENCODING_OPTION)
        if self.suffix in (".csv", ".tsv"):
            check_csv_header(path, self.separator, encoding, DELIMITER_OPTION)
        self.columns = self.read_columns()
        self.target_column: str | None = None
        if text_column is not None:
            self.require_column(text_column, "--text-column")

    def require_column(self, column: str, option: str) -> None:
        if column not in self.columns:
            raise UserInputError(
                f"{self.path}: no column {column!r} (named by {option}); the columns are {self.columns}"
            )

    def choose_columns(self, tagger: StanceTagger, text_column: str | None, target_column: str | None) -> None:
        """The text (and target) columns to read: as given, else the model's own names when the table has them."""
        if text_column is None:
            if tagger.text_column not in self.columns and TEXT not in self.columns:
                names = repr(tagger.text_column) + (f" (the model's) or {TEXT!r}" if tagger.text_column != TEXT else "")
                raise UserInputError(
                    f"{self.path}: no column {names}; the columns are {self.columns}; pass --text-column to pick one"
                )
            text_column = tagger.text_column if tagger.text_column in self.columns else TEXT
        self.text_column = text_column
        if target_column is not None:
            self.require_column(target_column, "--target-column")
        elif tagger.needs_target and tagger.target_column in self.columns:
            target_column = tagger.target_column
        self.target_column = target_column

    def read_columns(self) -> list[str]:
        if self.suffix == ".parquet":
            parquet = self.parquet_file()
            self.total_rows = parquet.metadata.num_rows
            return list(parquet.schema_arrow.names)
        reader = self.batches(1)
        try:
            first = next(reader, None)
        finally:
            reader.close()
        if first is None or first.empty:
            expected = "statements below the header" if self.suffix in (".csv", ".tsv") else "one JSON object per line"
            raise UserInputError(f"{self.path}: no statements; expected {expected}")
        return list(first.columns)

    def batches(self, size: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The table in batches of `size` rows: every column, or only `columns` (read alone where the format allows)."""
        if self.suffix == ".parquet":
            yield from self.parquet_batches(size, columns)
        elif self.suffix in (".csv", ".tsv"):
            yield from self.csv_batches(size, columns)
        else:
            for batch in self.json_batches(size):
                # A key that no object of this batch has is a column of missing values, as in the other formats.
                yield batch if columns is None else batch.reindex(columns=columns)

    def csv_batches(self, size: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        # Every cell as written: ids such as 007 stay strings and an empty cell stays empty.
        try:
            with pd.read_csv(
                self.path,
                sep=self.separator,
                dtype=str,
                keep_default_na=False,
                chunksize=size,
                encoding=self.encoding,
                usecols=columns,
            ) as reader:
                for chunk in reader:
                    yield chunk.set_axis(chunk.index + first_row_number(self.suffix))
        except pd.errors.EmptyDataError:
            raise UserInputError(f"{self.path}: no header row; expected a CSV file with a header") from None
        except pd.errors.ParserError as error:
            detail = str(error).strip().removeprefix("Error tokenizing data. C error: ")
            raise UserInputError(f"{self.path}: malformed CSV: {detail}") from None

    def json_batches(self, size: int) -> Iterator[pd.DataFrame]:
        if self.suffix == ".json" and self.starts_with_array():
            records = self.json_array()
            for start in range(0, len(records), size):
                frame = pd.DataFrame.from_records(records[start : start + size])
                yield frame.set_axis(range(start + 1, start + 1 + len(frame)))
            return
        records, numbers = [], []
        with self.path.open(encoding=self.encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                records.append(self.json_object(line, number))
                numbers.append(number)
                if len(records) == size:
                    yield pd.DataFrame.from_records(records).set_axis(numbers)
                    records, numbers = [], []
        if records:
            yield pd.DataFrame.from_records(records).set_axis(numbers)

    def json_object(self, line: str, number: int) -> dict:
        try:
            record = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as error:
            raise UserInputError(
                f"{self.path}: line {number}: not valid JSON ({error.msg} at column {error.colno}); "
                "expected one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise UserInputError(
                f"{self.path}: line {number}: a JSON {type(record).__name__}; expected one JSON object per line"
            )
        return record

    def starts_with_array(self) -> bool:
        with self.path.open(encoding=self.encoding) as handle:
            return handle.read(4096).lstrip().startswith("[")

    def json_array(self) -> list[dict]:
        try:
            records = json.loads(self.path.read_text(encoding=self.encoding))
        except json.JSONDecodeError as error:
            raise UserInputError(f"{self.path}: line {error.lineno}: not valid JSON ({error.msg})") from None
        for number, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise UserInputError(f"{self.path}: item {number}: expected a JSON object per statement")
        return records

    def parquet_file(self):
        import pyarrow
        import pyarrow.parquet

        try:
            return pyarrow.parquet.ParquetFile(self.path)
        except (pyarrow.ArrowException, OSError) as error:
            raise UserInputError(f"{self.path}: not a readable Parquet file ({error})") from None

    def parquet_batches(self, size: int, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        start = 1
        for batch in self.parquet_file().iter_batches(batch_size=size, columns=columns):
            frame = batch.to_pandas()
            yield frame.set_axis(range(start, start + len(frame)))
            start += len(frame)

    def check_not_numbers(self, batch: pd.DataFrame) -> None:
        """A column of numbers only (an id, a score) is not one of statements, though a CSV reads it as text."""
        texts = batch[self.text_column]
        all_text = texts.map(lambda value: isinstance(value, str)).all()
        if len(texts) and all_text and pd.to_numeric(texts, errors="coerce").notna().all():
            first = texts.index[0]
            raise UserInputError(
                f"{self.path}: column {self.text_column!r} holds only numbers (e.g. {self.row_name} {first}: "
                f"{texts[first]!r}), not statements; name the column of statements with --text-column; the columns "
                f"are {self.columns}"
            )

    def empty_cells(self, size: int) -> dict[str, pd.Index]:
        """The rows whose statement (and, when the table's target column is read, whose stance target) is missing
        or blank, by column.

        One pass over just those columns before anything is tagged: an empty cell near the end of a million rows is
        reported in seconds, not after minutes of tagging, and --skip-empty knows every row it leaves out.
        A value that is neither text nor empty (a number in a JSON file) is refused here, whatever --skip-empty says.
        """
        columns = [self.text_column] + ([self.target_column] if self.target_column else [])
        found: dict[str, list[pd.Index]] = {column: [] for column in columns}
        for batch in self.batches(size, columns):
            for column in columns:
                self.check_text_values(batch[column])
                found[column].append(batch.index[~batch[column].map(has_text).to_numpy()])
        return {column: pd.Index([]).append(indexes) for column, indexes in found.items()}

    def rows_to_skip(self, size: int, skip_empty: bool) -> pd.Index:
        """The rows --skip-empty leaves untagged; without it, a table with any such row is refused."""
        empty = self.empty_cells(size)
        rows = pd.Index([]).append(list(empty.values())).unique().sort_values()
        if len(rows) and not skip_empty:
            raise self.empty_cells_error(empty)
        return rows

    def check_text_values(self, values: pd.Series) -> None:
        wrong = values.map(lambda value: not (isinstance(value, str) or value is None or pd.isna(value)))
        if wrong.any():
            row = wrong.index[wrong.to_numpy()][0]
            value = values[row].item() if hasattr(values[row], "item") else values[row]  # 5, not np.int64(5)
            raise UserInputError(
                f"{self.path}: {self.row_name} {row}: column {values.name!r} is {value!r}; "
                f"expected {self.expected_in(values.name)}"
            )

    def expected_in(self, column: str) -> str:
        return "a stance target" if column == self.target_column else "a statement"

    def empty_cells_error(self, empty: dict[str, pd.Index]) -> UserInputError:
        """Names the column and its empty rows (the first few of many), and how to tag the other rows."""
        (column, rows), *others = [(column, rows) for column, rows in empty.items() if len(rows)]
        if len(rows) == 1:
            where = f"{self.row_name} {rows[0]}: column {column!r} is empty"
        else:
            where = f"column {column!r} is empty in {described_rows(self.row_name, rows)}"
        also = "".join(f" (and column {other!r} in {described_rows(self.row_name, more)})" for other, more in others)
        return UserInputError(
            f"{self.path}: {where}{also}; expected {self.expected_in(column)}, or pass --skip-empty to tag the other "
            "rows and leave these untagged"
        )


def has_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def described_rows(row_name: str, rows: pd.Index) -> str:
    """'row 7' or '1,204 rows (7, 19, 23, 40, 41 and 1,199 more)'."""
    if len(rows) == 1:
        return f"{row_name} {rows[0]}"
    shown = ", ".join(str(row) for row in rows[:5]) + (f" and {len(rows) - 5:,} more" if len(rows) > 5 else "")
    return f"{len(rows):,} {row_name}s ({shown})"


# --- Writing output --------------------------------------------------------------------------------------------------


class RowWriter:
    """Appends tagged frames to a stream as JSON Lines or CSV (one header), probabilities rounded."""

    def __init__(self, stream: TextIO, output_format: str, probability_columns: Iterable[str] = ()):
        self.stream, self.format, self.rows = stream, output_format, 0
        self.rounding = dict.fromkeys(probability_columns, PROBABILITY_DIGITS)

    def write(self, frame: pd.DataFrame) -> None:
        frame = frame.round(self.rounding) if self.rounding else frame
        if self.format == "csv":
            frame.to_csv(self.stream, index=False, header=self.rows == 0, lineterminator="\n")
        else:
            # json rather than DataFrame.to_json: no escaped slashes in file names, floats written to full precision.
            records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            self.stream.writelines(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records)
        self.rows += len(frame)


@contextmanager
def output_stream(output: str | None) -> Iterator[TextIO]:
    """Standard output, or a temporary file moved into place only when every row is written."""
    if output in (None, STDIN):
        yield sys.stdout
        sys.stdout.flush()
        return
    if Path(output).is_dir():
        raise UserInputError(f"--output {output}: is a folder; expected a file name")
    with atomic_path(output) as temporary, temporary.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def check_output_is_not_an_input(output: str | None, inputs: list[Path], model: str) -> None:
    """Refuse an output that would overwrite an input: the same path, a symlink to it, a hard link, '..' detours.

    The model is an input too when it is a local file or folder.
    """
    if output in (None, STDIN):
        return
    model_path = Path(model)
    model_files = [model_path] if model_path.is_file() else []
    if model_path.is_dir():
        model_files = [path for path in model_path.rglob("*") if path.is_file()]
    for given in [*inputs, *model_files]:
        if same_file(output, given):
            what = "the model file" if given in model_files else "the input"
            raise UserInputError(
                f"--output {output}: is {what} {given}; writing there would destroy it. Choose another file name"
            )


def output_format(args: argparse.Namespace) -> str:
    suffix = Path(args.output).suffix.lower() if args.output not in (None, STDIN) else ""
    if args.output not in (None, STDIN) and Path(args.output).is_dir():
        raise UserInputError(f"--output {args.output}: is a folder; expected a file name")
    if suffix in TABLE_SUFFIXES - {".csv", ".jsonl", ".ndjson", ".json"}:
        raise UserInputError(f"--output {args.output}: writes JSON Lines or CSV; name it .jsonl or .csv")
    if args.format:
        return args.format
    return "csv" if suffix == ".csv" else "jsonl"


def progress(total: int | None, unit: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=quiet or not sys.stderr.isatty(), file=sys.stderr, leave=False)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --- Tagging ---------------------------------------------------------------------------------------------------------


def tag_articles(tagger: StanceTagger, named_texts: Iterable[tuple[str, str]], args, writer: RowWriter, bar) -> int:
    """Quotes of each article, predicted in batches across articles; returns how many articles had quotes."""
    pending: list[pd.DataFrame] = []
    pending_rows, with_quotes = 0, 0

    def flush() -> None:
        nonlocal pending, pending_rows
        if pending:
            writer.write(tagger.tag_quotes(pd.concat(pending, ignore_index=True), args.target))
        pending, pending_rows = [], 0

    for name, text in named_texts:
        quotes = quote_frame(extract_quotes(text, include_indirect=args.indirect))
        bar.update(1)
        if quotes.empty:
            hint = "" if args.indirect else " (--indirect also tags indirect speech)"
            warn(f"{name}: no quotes found{hint}")
            continue
        with_quotes += 1
        quotes.insert(0, ARTICLE, name)
        pending.append(quotes)
        pending_rows += len(quotes)
        if pending_rows >= args.batch_size:
            flush()
    flush()
    return with_quotes


def tag_statement_lines(tagger: StanceTagger, text: str, args, writer: RowWriter) -> None:
    statements = [line.strip() for line in text.splitlines() if line.strip()]
    for start in range(0, len(statements), args.batch_size):
        writer.write(tagger.tag(statements[start : start + args.batch_size], args.target))


def tag_table(tagger: StanceTagger, table: StatementTable, args, writer: RowWriter, bar, skipped: pd.Index) -> None:
    """`skipped`: the rows with an empty statement or target that --skip-empty leaves untagged (found by
    StatementTable.rows_to_skip before tagging): not sent to the model, written with an empty label."""

    def checked_batches() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        for number, batch in enumerate(table.batches(args.batch_size)):
            statements = batch[~batch.index.isin(skipped)]
            if number == 0:  # before anything is written; a later batch of numbers may be real, short statements
                table.check_not_numbers(statements)
            model_input = pd.DataFrame({TEXT: statements[table.text_column]}, index=statements.index)
            if tagger.needs_target:
                targets = args.target if args.target is not None else statements[table.target_column]
                model_input = tagger.with_targets(model_input, targets)
            yield batch, model_input

    for batch, predicted in tagger.predict_batches(checked_batches()):
        # Aligned on the row numbers: a skipped row keeps its place, with no label or probabilities.
        writer.write(pd.concat([batch, predicted.rename(columns={LABEL: args.label_column})], axis=1))
        bar.update(len(batch))


def check_new_columns(table: StatementTable, tagger: StanceTagger, label_column: str) -> None:
    added = [label_column] + [probability_column(label) for label in tagger.labels]
    taken = [column for column in added if column in table.columns]
    if taken:
        raise UserInputError(
            f"{table.path}: already has column(s) {taken}; pass --label-column with another name "
            "(e.g. --label-column predicted) or rename them"
        )


@contextmanager
def collecting_no_garbage_while_loading() -> Iterator[None]:
    """Importing MLflow and scikit-learn and loading the model create millions of long-lived objects and next to no
    garbage: the collector's passes over them, while loading and again when the interpreter exits, took about a
    second of a three-second cold start. Pause it while loading, then set what was loaded aside (gc.freeze)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@exit_on_user_error
def run(args: argparse.Namespace) -> int:
    inputs = [given for given in args.inputs if given != STDIN]
    from_stdin = len(inputs) < len(args.inputs) or not args.inputs
    if from_stdin and inputs:
        raise UserInputError("read standard input ('-') or files, not both")
    if args.lines and not from_stdin:
        raise UserInputError("--lines applies to standard input only; a file of statements should be a .csv table")
    if from_stdin and not args.inputs and sys.stdin.isatty():
        raise UserInputError("no input: pass article files, a folder, a statements table, or pipe text into '-'")
    tables = [given for given in inputs if args.input_format or Path(given).suffix.lower() in TABLE_SUFFIXES]
    if tables and len(inputs) > 1:
        raise UserInputError(f"{tables[0]}: tag one statements table at a time, without other inputs")
    if args.text_column is not None and not tables:
        raise UserInputError(
            "--text-column applies to a statements table (.csv, .tsv, .jsonl, .parquet); articles are split into "
            "their quotes, and --lines reads one statement per line"
        )

    # Cheap checks first, so that a typo does not wait for the model to load.
    table = (
        StatementTable(Path(tables[0]), args.text_column, args.encoding or UTF8, args.input_format, args.delimiter)
        if tables
        else None
    )
    paths = article_paths(inputs, args.max_article_mb) if inputs and not tables else []
    stdin_text = read_stdin(None if args.lines else args.max_article_mb, args.encoding) if from_stdin else None
    writer_format = output_format(args)
    check_output_is_not_an_input(args.output, [table.path] if table is not None else paths, args.model)
    with collecting_no_garbage_while_loading():
        try:
            tagger = load_model(args.model, args.tracking_uri, jobs=args.jobs, trust_model=args.trust_model)
        except UserInputError as error:
            raise UserInputError(f"{error}{default_model_note(args)}") from None
    if args.model_by_default and is_uri(args.model):
        check_holds_prepared_data(args.model)
    if table is not None:
        table.choose_columns(tagger, args.text_column, args.target_column)
        check_new_columns(table, tagger, args.label_column)
    check_targets_given(tagger, table, args)
    skipped = table.rows_to_skip(args.batch_size, args.skip_empty) if table is not None else pd.Index([])

    with output_stream(args.output) as stream:
        probabilities = [column for column in tagger.output_columns if column != LABEL]
        writer = RowWriter(stream, writer_format, probabilities)
        if table is not None:
            with progress(table.total_rows, " statements", args.quiet) as bar:
                tag_table(tagger, table, args, writer, bar, skipped)
        elif stdin_text is not None and args.lines:
            tag_statement_lines(tagger, stdin_text, args, writer)
        else:
            named = [(STDIN_NAME, stdin_text)] if stdin_text is not None else None
            named_texts = named or read_articles(paths, inputs, args)
            with progress(len(named or paths), " articles", args.quiet) as bar:
                if not tag_articles(tagger, named_texts, args, writer, bar):
                    raise UserInputError(f"no quotes found in {describe_inputs(args.inputs)}; nothing to tag")
    if len(skipped):
        empty = "an empty statement or target" if table.target_column else "an empty statement"
        warn(f"{table.path}: {described_rows(table.row_name, skipped)} with {empty} left untagged (no label)")
    if tagger.pooled_targets:
        warn(pooled_targets_note(tagger.pooled_targets))
    if tagger.unseen_targets:
        warn(unseen_targets_note(tagger.unseen_targets))
    return 0


def counted_targets(targets: Counter) -> str:
    """The five commonest targets with their counts, and how many more."""
    shown = ", ".join(f"{target!r} ({count})" for target, count in targets.most_common(5))
    return shown + (f" and {len(targets) - 5} more" if len(targets) > 5 else "")


def pooled_targets_note(pooled: Counter) -> str:
    return (
        f"{sum(pooled.values())} statement(s) have a target the per-target model has no classifier of its own for: "
        f"{counted_targets(pooled)}; the classifier fitted on all targets tagged them (a target needs training "
        "statements, model.per_target_min_statements, 20 by default, and two labels)"
    )


def unseen_targets_note(unseen: Counter) -> str:
    return (
        f"{sum(unseen.values())} statement(s) have a target the model never saw in training: "
        f"{counted_targets(unseen)}; their labels rest on the statements' words, not on anything learnt about that "
        "target"
    )


def check_targets_given(tagger: StanceTagger, table: "StatementTable | None", args) -> None:
    """A model trained with stance targets is never given statements without them: it would guess. --target, when
    given, is every statement's target, the table's target column or not."""
    if args.target_column and table is None:
        raise UserInputError("--target-column applies to a statements table; for articles or lines pass --target")
    if args.target is not None and not args.target.strip():
        raise UserInputError("--target: empty; expected the stance target of every statement")
    if args.target is not None and args.target_column:
        raise UserInputError("--target gives every statement one target, --target-column reads each row's: pass one")
    if args.target is not None and table is not None and table.target_column is not None:
        warn(
            f"--target {args.target!r} is every statement's target; {table.path}'s column {table.target_column!r} "
            "is not read"
        )
        table.target_column = None
    if not tagger.needs_target:
        if args.target or args.target_column:
            raise UserInputError(f"{args.model}: the model was trained without stance targets; drop --target(-column)")
        return
    if args.target is None and (table is None or table.target_column is None):
        where = f"; {table.path} has no column {tagger.target_column!r} (its columns: {table.columns})" if table else ""
        raise UserInputError(
            f"{args.model}: the model was trained with stance targets (column {tagger.target_column!r}){where}: "
            "pass --target-column COLUMN for a table, or --target TEXT for one target of every statement"
        )


def describe_inputs(inputs: list[str]) -> str:
    if not inputs or inputs == [STDIN]:
        return STDIN_NAME
    return ", ".join(inputs) if len(inputs) <= 3 else f"{', '.join(inputs[:3])} and {len(inputs) - 3} more"


def default_model_note(args) -> str:
    """Why a model no --model named was tried: the prepared data set's champion is not the shipped corpus's."""
    if not getattr(args, "model_by_default", False) or args.model == DEFAULT_MODEL:
        return ""
    return (
        f" ({args.model} is the default because data/processed holds that data set; "
        f"--model {DEFAULT_MODEL} for the shipped corpus's champion)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    args.model_by_default = args.model is None
    args.model = args.model or prepared_champion()
    if not args.verbose:
        quiet_stage(verbose=False)
    # exit_on_user_error also logs; with no logging set up that would print each message twice.
    package_log = logging.getLogger("pipeline")
    if not package_log.handlers:
        package_log.addHandler(logging.NullHandler())
    bound_http_retries(INTERACTIVE_HTTP_BOUNDS)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return run(args)
    except KeyboardInterrupt:
        # Ctrl-C: the output's temporary file is already gone (atomic_path); no traceback for a user's choice.
        print("interrupted" + ("; no output file written" if args.output not in (None, STDIN) else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return reader_stopped_early()


if __name__ == "__main__":
    sys.exit(main())
