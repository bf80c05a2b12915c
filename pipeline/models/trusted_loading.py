"""Loading a classifier from files someone else may have written, without running anything they bring along.

MLflow's own loader puts a model's `code/` folder first on `sys.path` and trusts the skops types the model's
`MLmodel` file declares, so loading a model folder is running its author's code. Here the `.skops` artifact is
found through `MLmodel` (read as plain YAML, nothing imported), checked against the project's fixed list of trusted
types (`text_input.SKOPS_TRUSTED_TYPES`) and loaded with that list only; the `code/` folder is never put on the path.
A model that needs anything else is refused with one line saying why. `trust_model=True` (`--trust-model`) hands
the model to MLflow's loader instead: that runs code from the model's author.

No MLflow import here: the caller downloads a `models:/` or `runs:/` URI to a folder first (see tracking.py).
"""

from pathlib import Path

import yaml

from pipeline.errors import UserInputError
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.models.skops_import import import_skops

MLMODEL_FILE = "MLmodel"
SKOPS_FORMAT = "skops"
# Models logged by earlier versions of the project carry the project's own package in code/. It is installed
# anyway, and it is never put on the path, so it is ignored rather than refused.
PROJECT_PACKAGES = {"pipeline"}
TRUST_HINT = "pass --trust-model (trust_model=True) only if you trust its author: that runs their code"


class UntrustedModelError(UserInputError):
    """The model needs types or code outside what the project trusts."""


def refuse(name: str, reason: str) -> UntrustedModelError:
    return UntrustedModelError(f"{name}: refused to load: {reason}; {TRUST_HINT}")


def sklearn_flavor(model_dir: Path, name: str) -> dict:
    """The `flavors.sklearn` section of the folder's MLmodel file."""
    mlmodel = model_dir / MLMODEL_FILE
    try:
        description = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{name}: not an MLflow model (no {MLMODEL_FILE} file in {model_dir})") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserInputError(f"{name}: {MLMODEL_FILE} is not readable YAML ({reason})") from None
    flavor = description.get("flavors", {}).get("sklearn") if isinstance(description, dict) else None
    if not isinstance(flavor, dict):
        raise UserInputError(f"{name}: {MLMODEL_FILE} has no sklearn flavor; expected a scikit-learn model")
    return flavor


def skops_artifact(model_dir: Path, flavor: dict, name: str) -> Path:
    """The `.skops` file the flavor names, which must lie inside the model folder."""
    serialization = flavor.get("serialization_format", "pickle")
    if serialization != SKOPS_FORMAT:
        raise refuse(name, f"it is saved as {serialization}, which runs code when loaded; expected skops")
    relative = flavor.get("pickled_model")
    if not isinstance(relative, str) or not relative:
        raise UserInputError(f"{name}: {MLMODEL_FILE} names no model file (flavors.sklearn.pickled_model)")
    folder = model_dir.resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        # A symbolic link inside the folder that leads out of it says so: the MLmodel entry itself looks harmless.
        how = f" through the symbolic link {link}" if (link := first_symlink(folder, relative)) else ""
        raise refuse(name, f"its model file {relative!r} lies outside the model folder{how} ({path})")
    if not path.is_file():
        raise UserInputError(f"{name}: the model file {relative} is missing from {model_dir}")
    return path


def first_symlink(folder: Path, relative: str) -> str | None:
    """The first part of `relative`, inside `folder`, that is a symbolic link (as written in MLmodel), if any."""
    parts = Path(relative).parts
    for depth in range(1, len(parts) + 1):
        if (folder.joinpath(*parts[:depth])).is_symlink():
            return Path(*parts[:depth]).as_posix()
    return None


def foreign_code(model_dir: Path, flavor: dict) -> list[str]:
    """What the model's code folder would add to the path, beyond the project's own package."""
    code = flavor.get("code")
    if not code:
        return []
    folder = model_dir / code
    entries = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
    return [f"{code}/{entry}" for entry in entries if entry not in PROJECT_PACKAGES and entry != "__pycache__"]


def check_model_dir(model_dir: Path, name: str) -> Path:
    """Refuse a model folder that asks for more trust than the project gives; return its skops file."""
    flavor = sklearn_flavor(model_dir, name)
    declared = flavor.get("skops_trusted_types") or []
    if extra := sorted(set(map(str, declared)) - set(SKOPS_TRUSTED_TYPES)):
        raise refuse(name, f"its {MLMODEL_FILE} declares types the project does not trust: {', '.join(extra)}")
    if code := foreign_code(model_dir, flavor):
        raise refuse(name, f"it ships its own code ({', '.join(code)}), which would shadow installed modules")
    return skops_artifact(model_dir, flavor, name)


def not_loadable(name: str, error: Exception) -> UserInputError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return UserInputError(f"{name}: could not be loaded as a skops model ({type(error).__name__}: {detail})")


def load_skops_file(path: Path, name: str | None = None, trust_model: bool = False):
    """A classifier from a `.skops` file, trusting only the project's types (any type with trust_model)."""
    skops_io = import_skops()
    name = name or str(path)
    if path.stat().st_size == 0:
        raise UserInputError(f"{name}: the model file is empty")
    try:
        untrusted = skops_io.get_untrusted_types(file=path)
    except Exception as error:  # not a zip, no schema, truncated: skops raises several types
        raise not_loadable(name, error) from None
    if (extra := sorted(set(untrusted) - set(SKOPS_TRUSTED_TYPES))) and not trust_model:
        raise refuse(name, f"it needs types the project does not trust: {', '.join(extra)}")
    try:
        return skops_io.load(path, trusted=SKOPS_TRUSTED_TYPES + extra)
    except Exception as error:  # corrupt content behind a readable schema
        raise not_loadable(name, error) from None


def load_model_dir(model_dir: Path, name: str):
    """The classifier of a local MLflow model folder, loaded with the project's trusted types only."""
    return load_skops_file(check_model_dir(model_dir, name), name)
