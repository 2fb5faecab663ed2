"""Fixtures shared by the model tests: the embedding model loads once per session."""

from __future__ import annotations

import pytest

from models.embeddings import EmbeddingStore, shared_store


@pytest.fixture(scope="session")
def embedder() -> EmbeddingStore:
    """The process-wide store (all-MiniLM-L6-v2 loaded once, about 10 s)."""
    return shared_store()
