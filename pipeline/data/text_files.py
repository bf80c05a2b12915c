"""Reading users' text files in their encoding (UTF-8 unless told), streamed, naming the line of the first bad byte."""

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.errors import UserInputError

READ_BLOCK = 1 << 20
UTF8 = "utf-8"


def encoding_hint(encoding: str, setting: str | None) -> str:
    """What to do about a file that does not decode; `setting` is where the user names the encoding, if anywhere."""
    name = codecs.lookup(encoding).name
    if setting is None:
        return "save it as UTF-8"
    if name == UTF8:
        return f"save it as UTF-8, or set {setting} to the file's encoding (e.g. cp1252)"
    if name == "utf-16":  # Python's utf-16 needs a byte-order mark to know the byte order
        return f"check {setting}={encoding!r} (utf-16-le or utf-16-be for a file without a byte-order mark)"
    return f"check {setting}={encoding!r}"


def decoded_blocks(
    blocks: Iterable[bytes], name: str, encoding: str = UTF8, setting: str | None = "data.encoding"
) -> Iterator[str]:
    """Text of a stream of byte blocks; the first undecodable bytes are reported with their line."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines_before = 0
    for block in blocks:
        try:
            yield decoder.decode(block)
        except UnicodeDecodeError as error:
            # error.object is the block behind any partial character carried over, which holds no newline.
            line = lines_before + error.object.count(b"\n", 0, error.start) + 1
            bad = error.object[error.start : error.end]
            raise UserInputError(
                f"{name}: line {line}: bytes {bad!r} are not valid {encoding}; {encoding_hint(encoding, setting)}"
            ) from None
        except UnicodeError as error:  # e.g. utf-16 without a byte-order mark, before any character
            raise UserInputError(
                f"{name}: cannot be read as {encoding} ({error}); {encoding_hint(encoding, setting)}"
            ) from None
        lines_before += block.count(b"\n")
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UserInputError(
            f"{name}: line {lines_before + 1}: ends inside a {encoding} character; {encoding_hint(encoding, setting)}"
        ) from None


def file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            yield block


def check_encoding(path: Path, encoding: str = UTF8, setting: str | None = "data.encoding") -> None:
    for _ in decoded_blocks(file_blocks(path), str(path), encoding, setting):
        pass


def check_utf8(path: Path) -> None:
    """For files that must be UTF-8 (no setting names another encoding)."""
    check_encoding(path, UTF8, setting=None)


def first_invalid_json_line(path: Path, encoding: str = UTF8) -> str | None:
    """Where a JSON Lines file stops being one JSON object per line: "line N: ...", or None when it does not.

    Parsers that read the file in blocks report a byte position or a row count; this names the line to open.
    """
    with path.open(encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                return f"line {number}: not valid JSON ({error.msg} at column {error.colno})"
            if not isinstance(record, dict):
                return f"line {number}: a JSON {type(record).__name__}, not an object"
    return None


# Parsers build one column per header field; a "header" of hundreds of thousands of fields (a line of commas, a
# binary file) keeps them busy for many minutes before any error.
MAX_COLUMNS = 1000


def first_row_number(suffix: str) -> int:
    """The number messages give a file's first statement: 2 in a CSV or TSV file, whose row 1 is its header, as a
    spreadsheet shows it; 1 in a JSON Lines or Parquet file."""
    return 2 if suffix in (".csv", ".tsv") else 1


# Separators by name: `data.delimiter=semicolon` needs no quoting, where `data.delimiter=';'` must reach Hydra with its
# quotes (a shell, and make's OVERRIDES, strip them, and Hydra's parser refuses a bare ';').
NAMED_SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
SEPARATOR_NAMES = {character: name for name, character in NAMED_SEPARATORS.items()}


def field_delimiter(suffix: str, delimiter: str | None, setting: str = "data.delimiter") -> str:
    """A CSV / TSV file's field separator: as configured (one character, or its name), else by the suffix."""
    if delimiter is None:
        return "\t" if suffix == ".tsv" else ","
    delimiter = NAMED_SEPARATORS.get(str(delimiter).lower(), str(delimiter))
    if len(delimiter) != 1:
        raise UserInputError(
            f"{setting}={delimiter!r}: expected one character or its name, e.g. semicolon, tab, pipe or ';'"
        )
    return delimiter


# Separators a spreadsheet may have saved a "CSV" with (Excel uses ';' where the decimal mark is a comma).
OTHER_SEPARATORS = (";", "|")


def check_csv_header(
    path: Path,
    separator: str = ",",
    encoding: str = UTF8,
    setting: str = "data.delimiter",
    quoting: int = csv.QUOTE_MINIMAL,
) -> None:
    """Refuse a CSV / TSV whose first line has more than MAX_COLUMNS fields, naming the count, whose header is
    split by another separator than `separator`, naming that one and `setting`, or whose first row has more fields
    than its header."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        first_line = handle.readline(READ_BLOCK)
    found = [other for other in OTHER_SEPARATORS if other != separator and other in first_line]
    if separator not in first_line and found:
        raise UserInputError(
            f"{path}: line 1 has no {separator!r} between its column names but {found[0]!r}; set "
            f"{setting}={SEPARATOR_NAMES[found[0]]} for a file separated by {found[0]!r}"
        )
    # Counting separators, not parsing: a quoted separator in a column name would only make the count larger.
    fields = first_line.count(separator) + 1
    if fields > MAX_COLUMNS:
        raise UserInputError(
            f"{path}: line 1 has {fields:,} fields; expected a header naming the columns (at most {MAX_COLUMNS:,})"
        )
    check_first_row_fields(path, separator, encoding, quoting)


def check_first_row_fields(path: Path, separator: str, encoding: str, quoting: int) -> None:
    """Refuse a first row with more fields than the header. pandas, and the datasets library through it, would take
    the extra first fields of every row for an index: the columns shift silently (a text split at an unquoted comma
    becomes its last part), where a later row with a field too many is a parser error naming its line."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        rows = csv.reader(handle, delimiter=separator, quoting=quoting)
        try:
            header = next(rows, None)
            header_end = rows.line_num
            first = next(rows, None)
        except csv.Error:  # an unclosed quote, a field beyond the csv module's limit: the reader names the line
            return
    if header is None or first is None or len(first) <= len(header):
        return
    raise UserInputError(
        f"{path}: line {header_end + 1} has {len(first)} fields, the header {len(header)} ({', '.join(header)}); "
        f'a field holding {separator!r} must be quoted ("..."), and a row may neither end in {separator!r} nor '
        "start with a column the header does not name (row names)"
    )
