"""Shared fixtures: the real bundled model (loaded once), real Chroma indexes in temp dirs, and the
web app on a real server with a real browser (for tests/test_app_*.py)."""

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


# -- the web app's real server and real browser, shared by tests/test_app_*.py -------------------
# (app is imported inside each fixture: no other test module loads Gradio.)
@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The app on a free port, on its own index holding the bundled corpus."""
    import app
    from app_helpers import free_port

    index = tmp_path_factory.mktemp("app-index")
    assistant = Assistant(embedder=embedder, index_dir=index, auto_ingest_corpus=False)
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield assistant, f"http://127.0.0.1:{port}/", index
    demo.close()


@pytest.fixture
def login_server(tmp_path, embedder):
    """The app with a login (QA_AUTH as a file, one password holding a ':'), on its own index."""
    import app
    from app_helpers import free_port

    logins = tmp_path / "logins"
    logins.write_text("# analysts\nalice:open:sesame\nbob:hunter2\n")
    assistant = Assistant(embedder=embedder, index_dir=tmp_path / "index", auto_ingest_corpus=False, auth=str(logins))
    assert not assistant.ingest([BUNDLED_CORPUS_DIR]).failed
    port = free_port()
    demo = app.serve(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright (QA_REQUIRE_BROWSER makes its absence a failure)."""
    from app_helpers import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        if os.environ.get("QA_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
