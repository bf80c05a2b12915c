"""Readable MLflow run names that show what sets a run apart: model, features, key and searched parameters.

logreg · word · C=0.6646 · ngram_range=[1,3] · min_df=2
logreg · word_char · C=4 · class_weight=null
logreg · word_char · C=4 · dvc exp bronze-fish
"""

import re
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

SEPARATOR = " · "
# Prefixes that say nothing a reader of the name needs: the config group is in the name already.
NOISE_PREFIXES = ("model.estimator.estimator.", "model.estimator.", "features.vectorizer.", "model.", "features.")
# Overrides that say where things are or how they are logged, not what is trained.
IGNORED_OVERRIDES = ("hydra.", "mlflow.", "paths.", "evaluate.", "champion.", "data.")
LONG_DECIMAL = re.compile(r"-?\d+\.\d{5,}(?:[eE][-+]?\d+)?")
# A whole number written with a decimal point (4.0, 10.00), not part of a longer number, version or exponent.
WHOLE_DECIMAL = re.compile(r"(?<![\w.])(-?\d+)\.0+(?![\w.])")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"


def shorten_numbers(text: str) -> str:
    """C=0.6646459471581082 -> C=0.6646: four significant digits tell Optuna trials apart.

    C=4.0 -> C=4: the config file's 4.0 and an override's 4 are the same setting, and name the same configuration.
    """
    text = LONG_DECIMAL.sub(lambda number: f"{float(number.group()):.4g}", text)
    return WHOLE_DECIMAL.sub(r"\1", text)


def short_value(value: str) -> str:
    return shorten_numbers(value.replace(" ", ""))


def short_key(key: str, cfg: DictConfig | None = None) -> str:
    """model.estimator.C -> C; features.vectorizer.transformer_list.1.1.ngram_range -> char.ngram_range."""
    key = key.lstrip("+~")
    if cfg is not None:
        key = re.sub(
            r"features\.vectorizer\.transformer_list\.(\d+)\.1\.",
            lambda match: f"{transformer_name(cfg, int(match.group(1)))}.",
            key,
        )
    for prefix in NOISE_PREFIXES:
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return key


def transformer_name(cfg: DictConfig, index: int) -> str:
    try:
        entry = cfg.features.vectorizer.transformer_list[index]
    except (AttributeError, IndexError, KeyError, TypeError):
        return f"part{index}"
    return str(entry[0]) if isinstance(entry, ListConfig | list) and entry else f"part{index}"


def hydra_job_overrides() -> list[str]:
    """The command-line overrides of this job's parameters; config-group choices (model=logreg) left out."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    hydra = HydraConfig.get()
    groups = set(hydra.runtime.choices)
    return [override for override in hydra.overrides.task if override.partition("=")[0].lstrip("+~") not in groups]


def leaves(node, prefix: str = "") -> dict[str, object]:
    """A plain config's values by dotted key: a list of values ([1, 3]) is one value, other lists go by index."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
        items = enumerate(node)
    else:
        return {prefix: node}
    found = {}
    for key, value in items:
        found.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def changed_settings(cfg: DictConfig, config_dir: Path = CONFIG_DIR) -> list[str]:
    """The model, features and seed settings that differ from their config files, as overrides.

    A stage run by `dvc repro` reads the composed params.yaml and has no command-line overrides: without this,
    `make run OVERRIDES="model.per_target=true"` would be named like a run of the defaults. Values the files set by
    interpolation (random_state: ${seed}) are left out; model.per_target's default is the data set's.
    """
    changed = []
    for group in ("model", "features"):
        path = config_dir / group / f"{cfg[group].name}.yaml"
        if not path.is_file():
            continue
        actual = leaves(OmegaConf.to_container(cfg[group], resolve=True))
        for key, default in leaves(OmegaConf.to_container(OmegaConf.load(path), resolve=False)).items():
            interpolated = isinstance(default, str) and "${" in default
            if not interpolated and key in actual and actual[key] != default:
                changed.append(f"{group}.{key}={format_value(actual[key])}")
    seed_file = config_dir / "config.yaml"
    if seed_file.is_file() and "seed" in cfg and cfg.seed != OmegaConf.load(seed_file).get("seed", cfg.seed):
        changed.append(f"seed={cfg.seed}")
    per_target = OmegaConf.select(cfg, "model.per_target")
    if per_target is not None and per_target != OmegaConf.select(cfg, "data.per_target"):
        changed.append(f"model.per_target={format_value(per_target)}")
    return changed


def format_value(value) -> str:
    """A value as an override writes it: null, true, [1,3]."""
    if isinstance(value, list):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def differing_overrides(overrides: list[str], key_params: str, cfg: DictConfig | None = None) -> list[str]:
    """Parameter overrides, shortened, minus those the key params show already."""
    shown = {part.split("=", 1)[0].strip() for part in key_params.split(",") if "=" in part}
    parts = []
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator or key.lstrip("+~").startswith(IGNORED_OVERRIDES):
            continue
        name = short_key(key, cfg)
        if name in shown:
            continue
        parts.append(f"{name}={short_value(value)}")
    return parts


def run_name(cfg: DictConfig, overrides: list[str] = (), dvc_experiment: str | None = None) -> str:
    key_params = shorten_numbers(str(OmegaConf.select(cfg, "model.key_params", default="") or ""))
    parts = [str(cfg.model.name), str(cfg.features.name)]
    parts += [key_params] if key_params else []
    named = differing_overrides(list(overrides), key_params, cfg)
    # Settings changed in params.yaml (make run OVERRIDES=...), unless an override names them already.
    shown = {part.split("=", 1)[0] for part in named}
    named += [
        part for part in differing_overrides(changed_settings(cfg), key_params, cfg) if part.split("=")[0] not in shown
    ]
    parts += named
    if dvc_experiment:
        parts.append(f"dvc exp {dvc_experiment}")
    return SEPARATOR.join(parts)


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`... when an earlier run of the experiment has it."""
    if name not in taken:
        return name
    number = 2
    while f"{name} ({number})" in taken:
        number += 1
    return f"{name} ({number})"
