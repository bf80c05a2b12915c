"""Which data set the prepared splits hold, so that later stages and quick runs never mix data sets.

The prepare stage writes `dataset.json` beside the splits: the data config it used, the seed and a digest of the
statements it prepared. A quick `python -m pipeline.train` (or a sweep) without data overrides trains on exactly that
data set, under its name, labels and registered model; one that names another data set is told to prepare it first.
"""

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UserInputError
from pipeline.files import read_json, write_json

# OmegaConf is imported where it is used: stance-predict reads the manifest (prepared_registered_model) and starts
# faster without it.
if TYPE_CHECKING:
    from omegaconf import DictConfig

MANIFEST = "dataset.json"
# Where the prepare stage writes the splits (paths.processed), seen from the project folder.
DEFAULT_PROCESSED = "data/processed"
DIGEST_CHUNK_BYTES = 1 << 20


def manifest_path(processed_dir: str) -> Path:
    return Path(processed_dir) / MANIFEST


def data_digest(location: str) -> str:
    """md5 of a data file, or of a folder's files (names and bytes); `hub:<name>` for a hub dataset."""
    path = Path(location)
    if path.is_file():
        return add_file(hashlib.md5(), path).hexdigest()
    if path.is_dir():
        digest = hashlib.md5()
        for file in sorted(child for child in path.rglob("*") if child.is_file()):
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            add_file(digest, file)
        return digest.hexdigest()
    return f"hub:{location}"


def add_file(digest, path: Path):
    """Feed a file's bytes to `digest` a chunk at a time (a data file may be larger than the memory to spare)."""
    with open(path, "rb") as file:
        while chunk := file.read(DIGEST_CHUNK_BYTES):
            digest.update(chunk)
    return digest


def prepared_digest(cfg: "DictConfig", location: str | None = None) -> str:
    """The digest of the data the prepared splits came from, as prepare recorded it (of the statements the splits
    hold: stage_io.SplitsDigest); the file's md5 only for data nothing was prepared from."""
    location = location or cfg.data.path
    manifest = read_manifest(cfg.paths.processed)
    if manifest is not None and manifest["data"].get("path") == location and "digest" in manifest:
        return manifest["digest"]
    return data_digest(location)


def without_description(data: dict) -> dict:
    """The description is prose, not identity."""
    return {key: value for key, value in data.items() if key != "description"}


def write_manifest(cfg: "DictConfig", digest: str) -> None:
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(cfg.data, resolve=True)
    write_json(manifest_path(cfg.paths.processed), {"data": data, "seed": cfg.seed, "digest": digest})


def check_registered_model_is_its_own(data: "DictConfig", manifest: dict | None) -> None:
    """Refuse, before any split is replaced, a data set that names the registered model of the other data set
    prepared here before: a data config copied from another that kept its `registered_model`.

    The train stage checks the registry itself (tracking.check_registered_model_identity), but only after this
    stage has replaced the splits, leaving them (and the commands' default champion) to a refused configuration.
    This catches the usual case early, without MLflow.
    """
    if manifest is None or manifest["data"].get("registered_model") != data.registered_model:
        return
    before = manifest["data"]
    if str(before.get("name")) == str(data.name) and list(before.get("labels", [])) == list(data.labels):
        return
    raise UserInputError(
        f"data.registered_model={data.registered_model}: that is the registered model of data set "
        f"{before.get('name')!r} (labels {list(before.get('labels', []))}), prepared here before; data set "
        f"{data.name!r} (labels {list(data.labels)}) needs one of its own, e.g. "
        f"data.registered_model=stance-{data.name}. Nothing was prepared"
    )


def read_manifest(processed_dir: str) -> dict | None:
    path = manifest_path(processed_dir)
    return read_json(path) if path.is_file() else None


def splits_digest(processed_dir: str = DEFAULT_PROCESSED) -> str | None:
    """What identifies the prepared splits: the data's digest, the seed and the settings that split it; None when
    nothing is prepared. Runs tagged with another `splits_md5` were scored on other validation and test statements:
    statements were added, or the data was split another way."""
    manifest = read_manifest(processed_dir)
    return None if manifest is None else manifest_splits_digest(manifest)


def manifest_splits_digest(manifest: dict) -> str | None:
    """`splits_digest` of a manifest already read; None for one written before the data's digest was recorded."""
    if "digest" not in manifest:
        return None
    data = manifest["data"]
    identity = {"digest": manifest["digest"], "seed": manifest.get("seed"), "split": data.get("split")}
    identity |= {"group_column": data.get("group_column"), "target_column": data.get("target_column")}
    return hashlib.md5(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def prepared_registered_model(processed_dir: str = DEFAULT_PROCESSED) -> str | None:
    """The registered model of the data set the prepared splits hold; None where nothing is prepared."""
    manifest = read_manifest(processed_dir)
    return None if manifest is None else manifest["data"].get("registered_model")


def overrides_data(task_overrides: list[str]) -> bool:
    """True when the command line chose the data set or changed it (data=..., data.labels=...)."""
    names = [override.lstrip("+~").split("=", 1)[0] for override in task_overrides]
    return any(name == "data" or name.startswith("data.") for name in names)


def use_prepared_data(cfg: "DictConfig", task_overrides: list[str]) -> None:
    """Make `cfg.data` the data set the prepared splits hold, or stop if the command asked for another one.

    Without data overrides, a quick run adopts the prepared data set's config (so after `make run data=mine`,
    `python -m pipeline.train model=linear_svm` trains on `mine`, not on conf/'s default).
    """
    from omegaconf import OmegaConf, open_dict

    manifest = read_manifest(cfg.paths.processed)
    if manifest is None:
        return
    prepared = manifest["data"]
    if not overrides_data(task_overrides):
        with open_dict(cfg):
            cfg.data = OmegaConf.create(prepared)
        return
    wanted = without_description(OmegaConf.to_container(cfg.data, resolve=True))
    differing = sorted(
        key for key in wanted.keys() | prepared.keys() - {"description"} if wanted.get(key) != prepared.get(key)
    )
    if differing:
        raise UserInputError(
            f"{manifest_path(cfg.paths.processed)}: the prepared splits hold data set {prepared['name']!r}, which "
            f"differs from this command's data in {', '.join('data.' + key for key in differing)}; prepare it first "
            'with the same overrides (python -m pipeline.prepare <overrides>, or make run OVERRIDES="<overrides>"), '
            "then train"
        )
