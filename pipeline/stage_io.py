"""The files the stages hand to each other, as declared in dvc.yaml."""

from collections.abc import Iterable
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


def write_splits(splits: dict[str, pd.DataFrame], processed_dir: str) -> None:
    write_split_batches({split: [frame] for split, frame in splits.items()}, processed_dir)


def read_split(processed_dir: str, split: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One split, or only the given columns of it (Parquet reads just those)."""
    path = split_path(processed_dir, split)
    if not path.is_file():
        raise UserInputError(
            f"{path}: missing; run the prepare stage first (dvc repro, or python -m pipeline.prepare); after a failed "
            "prepare, `dvc checkout` restores the splits it last wrote"
        )
    return pd.read_parquet(path, columns=columns)
