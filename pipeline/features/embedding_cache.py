"""A disk cache of sentence embeddings, so that each distinct text is embedded once per encoder.

A sweep over classifiers, a cross-validation or the refit on all labels would otherwise embed the same statements
again each time. Vectors are keyed by the encoder's identity (model id and weights hash, plus the embedding settings)
and the SHA-256 of the text, in one SQLite file: safe for the parallel jobs of a sweep (SQLite locks the file) and
a single file to delete. The cache lives outside the repository, never in git or in a model: by default under
the user's cache folder; STANCE_EMBEDDING_CACHE (a folder) or the estimator's `cache_dir` moves it.

Texts are embedded a chunk at a time, each chunk stored as soon as it is done: an interrupted run keeps what it
embedded. A chunk is embedded under a lock file beside the cache, so that the parallel jobs of a sweep, started on
a cold cache together, do not each embed the same texts: the job that waited finds them cached.

A cache that cannot be used (a folder that cannot be written, a file that is not SQLite) is not worth stopping a
run or a served model for: the texts are embedded without it, with a warning naming the file.

A served model or a tagging job adds every new text it sees, so the cache keeps the texts it stored last, as many as
STANCE_EMBEDDING_CACHE_MAX_TEXTS says (a million by default, about 1.6 GB of all-MiniLM-L6-v2 vectors), and drops
the oldest beyond that: the disk it takes has a ceiling, and a corpus dropped that way is embedded again when next
fitted.
"""

import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock

from pipeline.errors import UserInputError

log = logging.getLogger(__name__)

CACHE_ENV = "STANCE_EMBEDDING_CACHE"
MAX_TEXTS_ENV = "STANCE_EMBEDDING_CACHE_MAX_TEXTS"
DEFAULT_MAX_TEXTS = 1_000_000
CACHE_FILE = "embeddings.sqlite"
LOCK_FILE = "embeddings.lock"
# Texts embedded and stored at a time: what an interrupted run can lose, and how often progress is logged.
CHUNK_TEXTS = 2048
# Parallel sweep jobs write at once; wait for the lock rather than fail.
LOCK_TIMEOUT_SECONDS = 120


# The cache files an unusable-cache warning was given for in this process.
_WARNED: set[Path] = set()


def default_cache_dir() -> Path:
    if configured := os.environ.get(CACHE_ENV):
        # Resolved now: a relative folder means the one the command was started in, whichever stage reads it.
        return Path(configured).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stance-pipeline" / "embeddings"


def max_cached_texts() -> int:
    value = os.environ.get(MAX_TEXTS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_TEXTS
    if not value.isdigit() or int(value) < 1:
        raise UserInputError(f"{MAX_TEXTS_ENV}={value!r}: expected a whole number of texts, at least 1")
    return int(value)


def text_key(encoder_key: str, text: str) -> bytes:
    return hashlib.sha256(f"{encoder_key}\n{text}".encode()).digest()


class EmbeddingCache:
    """get / put float32 vectors of one dimension for texts under one encoder key."""

    def __init__(self, folder: str | os.PathLike | None, encoder_key: str):
        self.path = Path(folder or default_cache_dir()) / CACHE_FILE
        self.encoder_key = encoder_key
        self.max_texts = max_cached_texts()
        self.usable = True

    def unusable(self, error: Exception) -> None:
        self.usable = False
        # Once per process and file: a server or a batched command makes a cache object per call.
        if self.path in _WARNED:
            return
        _WARNED.add(self.path)
        log.warning(
            "embedding cache %s cannot be used (%s: %s); embedding without it (%s moves it to another folder)",
            self.path,
            type(error).__name__,
            error,
            CACHE_ENV,
        )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cache's lock file (other processes embedding into this cache wait); a no-op once unusable."""
        lock = None
        if self.usable:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                lock = FileLock(self.path.with_name(LOCK_FILE), timeout=-1)
                lock.acquire()
            except OSError as error:
                self.unusable(error)
                lock = None
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def embedded(self, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray]) -> dict[str, np.ndarray]:
        """The vectors of distinct `texts`: cached ones read, the others embedded a chunk at a time and stored."""
        vectors: dict[str, np.ndarray] = {}
        cached = 0
        for start in range(0, len(texts), CHUNK_TEXTS):
            chunk = texts[start : start + CHUNK_TEXTS]
            with self.locked():
                found = self.get(chunk)
                missing = [text for text in chunk if text not in found]
                if missing:
                    new = dict(zip(missing, embed(missing), strict=True))
                    self.put(new)
                    found.update(new)
            cached += len(chunk) - len(missing)
            vectors.update(found)
            if missing and len(texts) > CHUNK_TEXTS:
                log.info("embedded %d of %d distinct texts", min(start + CHUNK_TEXTS, len(texts)), len(texts))
        log.info("%d distinct texts: %d embedded, %d from the cache", len(texts), len(texts) - cached, cached)
        return vectors

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        return connection

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `texts` (distinct texts expected), by text; none when the cache is unusable."""
        if not self.usable:
            return {}
        try:
            return self.read(texts)
        except (sqlite3.Error, OSError) as error:
            self.unusable(error)
            return {}

    def read(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
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
        if not self.usable:
            return
        try:
            self.write(vectors)
        except (sqlite3.Error, OSError) as error:
            self.unusable(error)

    def write(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [
            (text_key(self.encoder_key, text), np.asarray(vector, dtype=np.float32).tobytes())
            for text, vector in vectors.items()
        ]
        with closing(self.connect()) as connection, connection:
            connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
            # Rows get rowids in the order they are stored, and only the oldest are ever deleted: keeping the
            # newest max_texts rowids keeps the latest texts, without counting the table on every write.
            connection.execute(
                "DELETE FROM vectors WHERE rowid <= (SELECT max(rowid) FROM vectors) - ?", (self.max_texts,)
            )
