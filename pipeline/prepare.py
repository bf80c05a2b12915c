"""Stage 1: validate the labelled statements, drop duplicates, split into train / validation / test."""

import logging

import hydra
from omegaconf import DictConfig

from pipeline.errors import exit_on_user_error
from pipeline.loading import load_statements
from pipeline.splitting import split_statements
from pipeline.stage_io import write_splits
from pipeline.validation import LABEL, StatementColumns, validate_statements

log = logging.getLogger(__name__)


def columns_from_config(data: DictConfig) -> StatementColumns:
    return StatementColumns(
        text=data.text_column,
        label=data.label_column,
        id=data.id_column,
        group=data.group_column,
        target=data.target_column,
    )


def prepare(cfg: DictConfig):
    raw = load_statements(cfg.data.path, cfg.data.hub_split)
    statements = validate_statements(raw, columns_from_config(cfg.data), list(cfg.data.labels), cfg.data.path)
    splits = split_statements(statements, cfg.split.validation_size, cfg.split.test_size, cfg.seed)
    for name, frame in splits.items():
        counts = frame[LABEL].value_counts().reindex(list(cfg.data.labels), fill_value=0)
        log.info("%-10s %5d statements  %s", name, len(frame), {label: int(n) for label, n in counts.items()})
    return splits


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    write_splits(prepare(cfg), cfg.paths.processed)


if __name__ == "__main__":
    main()
