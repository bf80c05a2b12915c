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

from pipeline.files import write_text

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_params(overrides: list[str]) -> str:
    """The composed, fully resolved config as YAML, exactly as DVC's Hydra composition writes it."""
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        config = compose(config_name="config", overrides=overrides)
    OmegaConf.resolve(config)
    return OmegaConf.to_yaml(config)


def main() -> None:
    try:
        params = compose_params(sys.argv[1:])
    except (HydraException, OmegaConfBaseException) as error:
        # An unknown group option or key in the overrides: Hydra's message says which and what exists.
        sys.exit(f"error: {error}")
    write_text("params.yaml", params)


if __name__ == "__main__":
    main()
