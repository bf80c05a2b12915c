"""Reading users' text files in their encoding (UTF-8 unless told), streamed, naming the line of the first bad byte."""

import codecs
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.errors import UserInputError

READ_BLOCK = 1 << 20
UTF8 = "utf-8"


def encoding_hint(encoding: str) -> str:
    if codecs.lookup(encoding).name == UTF8:
        return "save it as UTF-8, or set data.encoding to the file's encoding (e.g. cp1252)"
    return f"check data.encoding={encoding!r}"


def decoded_blocks(blocks: Iterable[bytes], name: str, encoding: str = UTF8) -> Iterator[str]:
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
                f"{name}: line {line}: bytes {bad!r} are not valid {encoding}; {encoding_hint(encoding)}"
            ) from None
        lines_before += block.count(b"\n")
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UserInputError(
            f"{name}: line {lines_before + 1}: ends inside a {encoding} character; {encoding_hint(encoding)}"
        ) from None


def file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            yield block


def check_encoding(path: Path, encoding: str = UTF8) -> None:
    for _ in decoded_blocks(file_blocks(path), str(path), encoding):
        pass


def check_utf8(path: Path) -> None:
    check_encoding(path, UTF8)
