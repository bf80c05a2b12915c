"""The files the stages hand to each other, as declared in dvc.yaml."""

from pathlib import Path

import pandas as pd

from pipeline.errors import UserInputError
from pipeline.files import atomic_path


def split_path(processed_dir: str, split: str) -> Path:
    return Path(processed_dir) / f"{split}.parquet"


def write_splits(splits: dict[str, pd.DataFrame], processed_dir: str) -> None:
    for split, frame in splits.items():
        with atomic_path(split_path(processed_dir, split)) as temporary:
            frame.to_parquet(temporary, index=True)


def read_split(processed_dir: str, split: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One split, or only the given columns of it (Parquet reads just those)."""
    path = split_path(processed_dir, split)
    if not path.is_file():
        raise UserInputError(f"{path}: missing; run the prepare stage first (dvc repro, or python -m pipeline.prepare)")
    return pd.read_parquet(path, columns=columns)
