"""Compose conf/ into params.yaml, the file the DVC stages read and DVC tracks as params.

`dvc exp run` does the same itself (hydra.enabled in .dvc/config); this serves `dvc repro` and `make run`:
`python -m pipeline.compose_params model=linear_svm features=char`.
"""

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.config_errors import describe
from pipeline.errors import exit_with_user_error
from pipeline.files import write_text

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_params(overrides: list[str]) -> str:
    """The composed, fully resolved config as YAML, exactly as DVC's Hydra composition writes it."""
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        config = compose(config_name="config", overrides=overrides)
    OmegaConf.resolve(config)
    return OmegaConf.to_yaml(config)


def missing_data_dependency(params: str) -> str | None:
    """The data file or folder DVC will hash before the prepare stage, when it does not exist; else None.

    DVC's own error for it names neither the setting nor what was expected, and it comes after params.yaml has
    been overwritten with the mistake.
    """
    data = OmegaConf.create(params).data
    dependency = data.get("dvc_dependency")
    if not dependency or dependency == "params.yaml" or Path(dependency).exists():
        return None
    return (
        f"data.path={data.path}: no such file or folder (data set {data.name!r}); expected the labelled "
        "statements (a CSV, TSV, JSON Lines or Parquet file, or a folder with data.split.kind=files)"
    )


def main() -> None:
    try:
        params = compose_params(sys.argv[1:])
    except (HydraException, OmegaConfBaseException) as error:
        # An unknown group option or key in the overrides: Hydra's message says which and what exists.
        exit_with_user_error(describe(error))
    if problem := missing_data_dependency(params):
        exit_with_user_error(problem)
    write_text("params.yaml", params)


if __name__ == "__main__":
    main()
