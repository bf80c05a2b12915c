"""models/train_run.json: the train stage's MLflow run and the configuration it trained with, for the evaluate stage.

The evaluate stage scores the model file the train stage saved, but refits and registers a model from its own
configuration. Run by hand without the stage's config (`python -m pipeline.evaluate` composes conf/, not
params.yaml), it would register a model of another kind under the trained run's name and description; it compares
the two configurations first.
"""

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pipeline.errors import UserInputError
from pipeline.files import read_json, write_json
from pipeline.tracking import setting_leaves

# The settings that decide the model the train stage fits (its `params` in dvc.yaml, less where runs are logged).
TRAINING_KEYS = ("seed", "data", "features", "model", "selection_metric")
# How many differing settings an error names.
SHOWN_DIFFERENCES = 3
# A setting one configuration has and the other has not.
UNSET = object()


def training_config(cfg: DictConfig) -> dict:
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in TRAINING_KEYS
        if key in cfg
    }


def write_train_record(cfg: DictConfig, run_id: str, model_uri: str) -> None:
    write_json(cfg.paths.train_run, {"run_id": run_id, "model_uri": model_uri, "config": training_config(cfg)})


def config_differences(trained: dict, here: dict) -> list[str]:
    """`key=<trained> (trained) against <here> (here)` for each setting that differs: the config groups' choices
    first (`model.name`, `features.name`, ...), which say the most, then the other settings by name."""
    trained, here = setting_leaves(trained), setting_leaves(here)
    # Compared as the record was written (JSON): NaN equals NaN, a tuple its list.
    differing = [
        key
        for key in trained.keys() | here.keys()
        if key not in trained or key not in here or as_written(trained[key]) != as_written(here[key])
    ]
    return [
        f"{key}={shown(trained.get(key, UNSET))} (trained) against {shown(here.get(key, UNSET))} (here)"
        for key in sorted(differing, key=lambda key: (not key.endswith(".name"), key))
    ]


def as_written(value) -> str:
    return json.dumps(value)


def shown(value) -> str:
    return "not set" if value is UNSET else repr(value)


def read_train_record(cfg: DictConfig) -> dict:
    """The train stage's record, refused when this configuration would not refit and register the model it trained."""
    path = Path(cfg.paths.train_run)
    if not path.is_file():
        raise UserInputError(f"{path}: missing; run the train stage first (dvc repro, or make run)")
    record = read_json(path)
    if "config" not in record:  # written before records kept the configuration: nothing to compare
        return record
    if differences := config_differences(record["config"], training_config(cfg)):
        shown = "; ".join(differences[:SHOWN_DIFFERENCES])
        more = f" and {len(differences) - SHOWN_DIFFERENCES} more" if len(differences) > SHOWN_DIFFERENCES else ""
        raise UserInputError(
            f"{cfg.paths.model} was trained (MLflow run {record['run_id']}) with other settings than this evaluate "
            f"was given: {shown}{more}; evaluate it with the configuration it was trained with, as dvc.yaml does "
            "(python -m pipeline.evaluate --config-dir . --config-name params), or train again (make run)"
        )
    return record
