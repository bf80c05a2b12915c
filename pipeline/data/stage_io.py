"""The files the stages hand to each other, as declared in dvc.yaml."""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import UserInputError
from pipeline.files import atomic_path


def split_path(processed_dir: str, split: str) -> Path:
    return Path(processed_dir) / f"{split}.parquet"


def write_frame_batches(batches: Iterable[pd.DataFrame], path: Path) -> None:
    """One Parquet file from frames of the same columns, a row group each; as `DataFrame.to_parquet(index=True)`
    writes the frames' concatenation (read back, it gives the same frame)."""
    schema, writer = None, None
    try:
        for frame in batches:
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=True)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError(f"{path}: no frames to write")


def write_split_batches(splits: dict[str, Iterable[pd.DataFrame]], processed_dir: str) -> None:
    """Write each split from its frames; the files replace earlier ones only once every split is written, so a
    failure part-way leaves the earlier splits as they were, never a mix or a half-written file."""
    with ExitStack() as written:
        for split, batches in splits.items():
            temporary = written.enter_context(atomic_path(split_path(processed_dir, split)))
            write_frame_batches(batches, temporary)


class SplitsDigest:
    """md5 of the prepared statements as written: each split's name, columns, row numbers and values, in order.

    It identifies the data (`data_md5`, `splits_md5`) by what the splits hold rather than by the data file's bytes,
    so a file re-saved with a byte-order mark, other line endings or other quoting is the same data: the splits,
    and so dvc.lock and the runs, stay as they were.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5()

    def fed(self, split: str, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """`batches` unchanged, each added to the digest as it passes on to be written."""
        self._md5.update(f"\0split {split}\0".encode())
        for frame in batches:
            self._md5.update("\0".join(map(str, frame.columns)).encode() + b"\0")
            # hash_pandas_object hashes with a fixed key: the same values give the same hashes in every process.
            self._md5.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
            yield frame

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def write_splits(splits: dict[str, pd.DataFrame], processed_dir: str) -> None:
    write_split_batches({split: [frame] for split, frame in splits.items()}, processed_dir)


def read_split(processed_dir: str, split: str) -> pd.DataFrame:
    """One split, as the prepare stage wrote it."""
    path = split_path(processed_dir, split)
    if not path.is_file():
        raise UserInputError(
            f"{path}: missing; run the prepare stage first (dvc repro, or python -m pipeline.prepare); after a failed "
            "prepare, `dvc checkout` restores the splits it last wrote"
        )
    return pd.read_parquet(path)
