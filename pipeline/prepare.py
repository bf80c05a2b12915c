"""Stage 1: validate the labelled statements, drop duplicates, split into train / validation / test.

The split is the data set's own (`data.split.kind`): shares held out at random, the data set's own files, a split
column, or a hub dataset's named splits. A data set without a validation split of its own gets one held out of train.

The text stays in the Arrow table `datasets` loaded (memory-mapped) while the rows are checked, de-duplicated and
split on their small columns and digests (pipeline.data.validation); each split's text is read back a batch at a time
as its file is written.
"""

import logging
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig

from pipeline.config_errors import reports_config_errors
from pipeline.data.loading import TextFormat, first_row_of, is_local_file, load_statement_table
from pipeline.data.prepared_data import check_registered_model_is_its_own, read_manifest, write_manifest
from pipeline.data.split_checks import groups_across_splits, problems_across_splits, rows_of_all_splits
from pipeline.data.splitting import (
    SPLIT_NAMES,
    check_every_label_in_each_split,
    drop_held_out_duplicates,
    hold_out_validation,
    split_statements,
)
from pipeline.data.stage_io import SplitsDigest, write_split_batches
from pipeline.data.statement_source import ArrowStatements
from pipeline.data.validation import (
    GROUP,
    LABEL,
    SPLIT,
    StatementColumns,
    ValidatedStatements,
    describe_rows,
    validate_source,
)
from pipeline.errors import DataValidationError, UserInputError, exit_on_user_error
from pipeline.scoring import real_text

log = logging.getLogger(__name__)
SPLIT_KINDS = ("fractions", "files", "column", "hub")


def columns_from_config(data: DictConfig, with_split_column: bool = False) -> StatementColumns:
    return StatementColumns(
        text=data.text_column,
        label=data.label_column,
        id=data.id_column,
        group=data.group_column,
        target=data.target_column,
        split=data.split.column if with_split_column else None,
    )


def load_and_validate(
    data: DictConfig, location: str, hub_split: str = "train", with_split_column=False
) -> ValidatedStatements:
    text_format = TextFormat.from_config(data)
    table = load_statement_table(location, hub_split, text_format)
    columns = columns_from_config(data, with_split_column)
    source = ArrowStatements(table, first_row=first_row_of(location, text_format))
    return validate_source(source, columns, list(data.labels), location)


def split_file_path(data: DictConfig, split: str) -> str | None:
    name = data.split.files.get(split)
    return None if name is None else str(Path(data.path) / name)


def fixed_splits(data: DictConfig) -> dict[str, ValidatedStatements | None]:
    """The splits a data set brings: None for a validation split it does not have."""
    kind = data.split.kind
    if kind == "files":
        if not Path(data.path).is_dir():
            raise UserInputError(
                f"data.path={data.path}: expected a folder holding the files named in data.split.files"
            )
        for split in ("train", "test"):
            if not data.split.files.get(split):
                raise UserInputError(f"data.split.files.{split}: missing; name the {split} file inside {data.path}")
        for split in SPLIT_NAMES:
            if (path := split_file_path(data, split)) and not Path(path).is_file():
                raise UserInputError(
                    f"data.split.files.{split}={data.split.files[split]!r}: no such file in {data.path}"
                )
        return {
            split: load_and_validate(data, path) if (path := split_file_path(data, split)) else None
            for split in SPLIT_NAMES
        }
    if kind == "hub":
        if is_local_file(data.path):
            raise UserInputError(f"data.split.kind=hub: data.path={data.path} is a local file, not a hub dataset")
        names = data.split.names
        splits = {split: load_and_validate(data, data.path, names[split]) for split in ("train", "test")}
        splits["validation"] = load_and_validate(data, data.path, names.validation) if names.validation else None
        return splits
    # kind == "column": one table, a column says which split each row belongs to.
    if not data.split.column:
        raise UserInputError("data.split.kind=column: set data.split.column to the column naming each row's split")
    validated = load_and_validate(data, data.path, with_split_column=True)
    statements = validated.rows
    values = {str(data.split.names[split]): split for split in SPLIT_NAMES if data.split.names[split] is not None}
    found = statements[SPLIT].astype(str)
    unknown = ~found.isin(list(values))
    if unknown.any():
        raise UserInputError(
            f"{data.path}: column {data.split.column!r} holds {sorted(found[unknown].unique(), key=str)[:10]} in "
            f"{describe_rows(statements, unknown)}; expected one of {sorted(values)} (data.split.names)"
        )
    by_split = {split: statements[found.map(values) == split].drop(columns=SPLIT) for split in SPLIT_NAMES}
    for split in ("train", "test"):
        if by_split[split].empty:
            raise UserInputError(f"{data.path}: no row has {data.split.column}={data.split.names[split]!r}")
    return {split: validated.with_rows(rows) if not rows.empty else None for split, rows in by_split.items()}


def split_places(data: DictConfig) -> dict[str, str]:
    """Where each of a data set's own splits is, as messages name it: its file, its value in the split column, or
    its name on the hub."""
    kind, names = data.split.kind, data.split.names
    if kind == "files":
        return {split: str(data.split.files[split]) for split in SPLIT_NAMES if data.split.files.get(split)}
    if kind == "column":
        return {split: f"{data.split.column}={names[split]!r}" for split in SPLIT_NAMES if names[split] is not None}
    return {split: f"split {names[split]!r}" for split in SPLIT_NAMES if names[split] is not None}


def check_own_splits(data: DictConfig, splits: dict[str, ValidatedStatements]) -> None:
    """What validation refuses within one file, refused across the data set's own splits too; a group in several
    splits is only warned about, the split being the user's to choose."""
    places = split_places(data)
    rows = rows_of_all_splits(splits)
    if problems := problems_across_splits(rows, splits, places, ids_given=bool(data.id_column)):
        raise DataValidationError(
            f"{data.path}: {len(problems)} problem(s) across its splits (data.split.kind={data.split.kind}):\n  - "
            + "\n  - ".join(problems)
        )
    count, listed = groups_across_splits(rows, places)
    if count:
        log.warning(
            "%d group(s) (column %r, data.group_column) have statements in more than one split: %s; a group on both "
            "sides of a split can inflate the scores, but the data set's own split (data.split.kind=%s) is kept",
            count,
            data.group_column,
            listed,
            data.split.kind,
        )


def check_label_settings(data: DictConfig) -> None:
    labels, stance_labels = [str(label) for label in data.labels], [str(label) for label in data.stance_labels]
    if len(set(labels)) < 2 or len(set(labels)) != len(labels):
        raise UserInputError(f"data.labels={labels}: expected at least two different labels, each once")
    if not set(stance_labels) <= set(labels):
        raise UserInputError(f"data.stance_labels={stance_labels}: expected labels from data.labels={labels}")


def splitting_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """All the splitting functions look at (labels, groups, row order): fewer columns for them to copy."""
    return rows[[column for column in (LABEL, GROUP) if column in rows]]


def split_by(statements: ValidatedStatements, chosen: dict[str, pd.DataFrame]) -> dict[str, ValidatedStatements]:
    """The validated statements of each split a splitting function chose (it returns their splitting columns)."""
    return {name: statements.with_rows(statements.rows.loc[split.index]) for name, split in chosen.items()}


def split_rows(cfg: DictConfig) -> dict[str, ValidatedStatements]:
    """Each split's validated rows; the splitting sees only labels, groups, row order and statement keys."""
    data, kind = cfg.data, cfg.data.split.kind
    check_label_settings(data)
    real_text.check_extra_eval_files(data)
    if kind not in SPLIT_KINDS:
        raise UserInputError(f"data.split.kind={kind!r}: expected one of {', '.join(SPLIT_KINDS)}")
    if kind == "fractions":
        statements = load_and_validate(data, data.path, data.split.names.train)
        chosen = split_statements(
            splitting_columns(statements.rows), data.split.validation_size, data.split.test_size, cfg.seed
        )
        splits = split_by(statements, chosen)
    else:
        splits = fixed_splits(data)
        check_own_splits(data, {name: split for name, split in splits.items() if split is not None})
        if splits["validation"] is None:
            train = splits["train"]
            chosen = hold_out_validation(splitting_columns(train.rows), data.split.validation_size, cfg.seed)
            splits.update(split_by(train, chosen))
        rows, dropped = drop_held_out_duplicates({name: split.rows for name, split in splits.items()})
        splits = {name: splits[name].with_rows(split) for name, split in rows.items()}
        if dropped["validation"]:
            log.warning("dropped %d validation statement(s) that repeat a test statement", dropped["validation"])
        if dropped["train"]:
            log.warning("dropped %d training statement(s) that repeat a validation or test statement", dropped["train"])
    check_every_label_in_each_split({name: split.rows for name, split in splits.items()}, list(data.labels))
    for name, split in splits.items():
        counts = split.rows[LABEL].value_counts().reindex(list(data.labels), fill_value=0)
        log.info("%-10s %5d statements  %s", name, len(split.rows), {label: int(n) for label, n in counts.items()})
    return splits


def prepare(cfg: DictConfig) -> dict[str, pd.DataFrame]:
    """The splits as frames in the standard columns, text included (the stage itself writes them in batches)."""
    return {name: split.standard_frame() for name, split in split_rows(cfg).items()}


def write_prepared_splits(cfg: DictConfig) -> None:
    """The stage's work: the split files, written a batch of rows at a time, and the manifest beside them."""
    check_registered_model_is_its_own(cfg.data, read_manifest(cfg.paths.processed))
    splits = split_rows(cfg)
    digest = SplitsDigest()
    batches = {name: digest.fed(name, split.batches()) for name, split in splits.items()}
    write_split_batches(batches, cfg.paths.processed)
    write_manifest(cfg, digest.hexdigest())


@reports_config_errors
@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    write_prepared_splits(cfg)


if __name__ == "__main__":
    main()
