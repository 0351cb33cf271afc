"""Shared fixtures: the real bundled model (loaded once) and real Chroma indexes in temp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qa import Assistant
from qa.config import BUNDLED_CORPUS_DIR, IndexSettings

# Every lock taken out of the order in qa.locks raises, here and in the processes tests start.
os.environ.setdefault("QA_CHECK_LOCKS", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def embedder():
    from qa.embeddings import Embedder

    model = Embedder.from_settings(IndexSettings())
    model.warm_up()
    return model


@pytest.fixture
def make_assistant(tmp_path, embedder):
    """A fresh Assistant on its own empty index (no auto-ingest unless asked)."""

    def make(**settings):
        settings.setdefault("index_dir", tmp_path / "index")
        settings.setdefault("auto_ingest_corpus", False)
        return Assistant(embedder=embedder, **settings)

    return make


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory, embedder):
    """An Assistant whose index holds the bundled corpus, shared by read-only tests."""
    index = tmp_path_factory.mktemp("corpus-index")
    assistant = Assistant(embedder=embedder, index_dir=index, auto_ingest_corpus=False)
    report = assistant.ingest([BUNDLED_CORPUS_DIR])
    assert report.added and not report.failed
    return assistant


@pytest.fixture(scope="session")
def bundled_report() -> Path:
    return next(BUNDLED_CORPUS_DIR.glob("*.txt"))


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus folder."""
    target = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS_DIR, target)
    return target
