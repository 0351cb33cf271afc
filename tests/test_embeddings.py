"""The encoder: the bundled model offline, and the ONNX Runtime backend giving torch's vectors and results."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qa import Assistant, Settings
from qa.config import BUNDLED_CORPUS_DIR, IndexSettings
from qa.embeddings import Embedder
from qa.errors import ConfigError

TEXTS = [
    "Shelling killed 12 civilians in Saraqib on Sunday, local medics said.",
    "Aid",
    "قالت الأمم المتحدة إن قافلة مساعدات وصلت إلى سراقب",  # Arabic
    "Колонна гуманитарной помощи достигла Саракиба",  # Cyrillic
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
]


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    embedder = Embedder.from_settings(IndexSettings(embedding_backend="onnx", model_cache_dir=tmp_path_factory.mktemp("model-cache")))
    embedder.warm_up()
    return embedder


def test_vectors_are_unit_length_float32(embedder):
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_onnx_backend_gives_torchs_vectors(embedder, onnx_embedder):
    texts = TEXTS * 7  # several batches, of mixed lengths
    cosines = np.sum(embedder.encode(texts) * onnx_embedder.encode(texts), axis=1)
    assert cosines.min() > 0.99999


@pytest.mark.slow
def test_onnx_export_is_made_once_and_reused(onnx_embedder):
    exported = onnx_embedder._onnx.path
    assert exported.is_file() and exported.name == "model.onnx"
    assert not list(exported.parent.glob("*.partial")), "no half-written export is left behind"
    stamp = exported.stat().st_mtime_ns
    again = Embedder.from_settings(IndexSettings(embedding_backend="onnx", model_cache_dir=onnx_embedder.cache_dir))
    again.warm_up()
    assert again._onnx.path == exported and exported.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_onnx_backend_gives_the_same_answers_and_passages(corpus_assistant, onnx_embedder, tmp_path):
    """The same questions through the same index, encoded by either backend; then a fresh index
    ingested with the onnx backend answers the same."""
    same_index = Assistant(
        embedder=onnx_embedder, index_dir=corpus_assistant.settings.index.index_dir, auto_ingest_corpus=False
    )
    own_index = Assistant(embedder=onnx_embedder, index_dir=tmp_path / "onnx-index", auto_ingest_corpus=False)
    assert own_index.ingest([BUNDLED_CORPUS_DIR]).added
    questions = [
        "How many civilians were killed in Maarat al Numan on Wednesday?",
        "Which monitor reported the deaths in Maarat al Numan?",
        "Which countries agreed in 2017 to make Idlib a de-escalation zone?",
        "How many people have been displaced since the offensive began?",
        "What is the name of the man in the blood-stained shirt?",
        "Who won the 2018 World Cup?",
    ]
    for question in questions:
        by_torch = corpus_assistant.ask(question, mode="dense")
        for other in (same_index, own_index):
            by_onnx = other.ask(question, mode="dense")
            assert [p.chunk_id for p in by_onnx.passages] == [p.chunk_id for p in by_torch.passages], question
            assert by_onnx.text == by_torch.text and by_onnx.abstained == by_torch.abstained


def test_backend_is_a_checked_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "onnx")
    assert Assistant(index_dir=tmp_path).embedder.backend == "onnx"
    with pytest.raises(ValueError, match="embedding_backend"):
        Settings(embedding_backend="tensorflow")
    with pytest.raises(ConfigError, match="unknown embedding backend 'tensorflow'; choose one of torch, onnx"):
        Embedder("all-MiniLM-L6-v2", "cpu", 64, False, "tensorflow", tmp_path)


def test_an_unknown_model_is_one_clear_error_without_asking_the_hub():
    """Even in a process that imported huggingface_hub before the offline switch was set (the
    web app does, through Gradio), an unknown model name never makes a request."""
    code = textwrap.dedent(
        """
        import os, socket
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.pop(name, None)
        import huggingface_hub.constants  # read its offline switch now, while it is off (Gradio does)
        looked_up = []
        def refuse(host, *args, **kwargs):
            looked_up.append(host)
            raise OSError("no network in this test")
        socket.getaddrinfo = refuse
        from qa.config import IndexSettings
        from qa.embeddings import Embedder
        from qa.errors import ConfigError
        try:
            Embedder.from_settings(IndexSettings(embedding_model="no-such/model")).warm_up()
        except ConfigError as exc:
            print(exc)
        print("looked up", looked_up)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cannot load embedding model 'no-such/model'" in done.stdout and "downloads are off" in done.stdout
    assert "looked up []" in done.stdout
