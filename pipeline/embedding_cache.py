"""A disk cache of sentence embeddings, so that each distinct text is embedded once per encoder.

A sweep over classifiers, a cross-validation or the refit on all labels would otherwise embed the same statements
again each time. Vectors are keyed by the encoder's identity (model id and weights hash, plus the embedding settings)
and the SHA-256 of the text, in one SQLite file: safe for the parallel jobs of a sweep (SQLite locks the file) and
a single file to delete. The cache lives outside the repository, never in git or in a model: by default under
the user's cache folder; STANCE_EMBEDDING_CACHE or the estimator's `cache_dir` moves it.
"""

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

CACHE_ENV = "STANCE_EMBEDDING_CACHE"
CACHE_FILE = "embeddings.sqlite"
# Parallel sweep jobs write at once; wait for the lock rather than fail.
LOCK_TIMEOUT_SECONDS = 120


def default_cache_dir() -> Path:
    if configured := os.environ.get(CACHE_ENV):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stance-pipeline" / "embeddings"


def text_key(encoder_key: str, text: str) -> bytes:
    return hashlib.sha256(f"{encoder_key}\n{text}".encode()).digest()


class EmbeddingCache:
    """get / put float32 vectors of one dimension for texts under one encoder key."""

    def __init__(self, folder: str | os.PathLike | None, encoder_key: str):
        self.path = Path(folder or default_cache_dir()) / CACHE_FILE
        self.encoder_key = encoder_key

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        return connection

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `texts` (distinct texts expected), by text."""
        keys = {text_key(self.encoder_key, text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        with closing(self.connect()) as connection:
            batch = list(keys)
            # SQLite limits the number of parameters of one statement.
            for start in range(0, len(batch), 500):
                chunk = batch[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, vector in connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                    found[keys[key]] = np.frombuffer(vector, dtype=np.float32)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [
            (text_key(self.encoder_key, text), np.asarray(vector, dtype=np.float32).tobytes())
            for text, vector in vectors.items()
        ]
        with closing(self.connect()) as connection, connection:
            connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
