"""The encoder: the bundled model offline, and the torch-free encoder (ONNX Runtime, the model's own
tokenizer, pooling in numpy) giving torch's vectors and torch's retrieval, loaded without torch."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant
from qa.chunking import split_sentences
from qa.config import BUNDLED_CORPUS_DIR, IndexSettings
from qa.embeddings import Embedder
from qa.onnx_encoder import is_exported, pool

REPO = Path(__file__).resolve().parent.parent
TEXTS = [
    "Shelling killed 12 civilians in Saraqib on Sunday, local medics said.",
    "Aid",
    "قالت الأمم المتحدة إن قافلة مساعدات وصلت إلى سراقب",  # Arabic
    "Колонна гуманитарной помощи достигла Саракиба",  # Cyrillic
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
]


def repository_texts(count: int = 1000) -> list[str]:
    """`count` texts from the repository itself (no shared data needed): the gold sets'
    questions, answers and evidence, the bundled report's sentences, the attribution set's
    sentences, and the README's and docs' sentences and paragraphs (some past 256 tokens)."""
    texts: list[str] = []
    long: list[str] = []  # paragraphs past the model's 256 tokens, first: cut at its limit
    for path in sorted((REPO / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [str(row[k]) for k in ("question", "evidence", "sentence", "title") if row.get(k)]
            texts += [str(a) for a in row.get("answers", [])]
    for path in [*sorted(BUNDLED_CORPUS_DIR.glob("*.txt")), REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        texts += [text[s.start : s.end] for s in split_sentences(text)]
        long += [p for p in text.split("\n\n") if len(p) > 1500]
    texts = [t for t in dict.fromkeys(long + texts) if t.strip()]
    assert len(texts) >= count, len(texts)
    return texts[:count]


@pytest.fixture(scope="module")
def torch_embedder():
    embedder = Embedder.from_settings(IndexSettings(embedding_backend="torch", query_backend="torch"))
    embedder.warm_up()
    return embedder


def test_vectors_are_unit_length_float32(embedder):
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)
    assert embedder.encode_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_the_torch_free_encoder_gives_torchs_vectors_on_a_thousand_texts(embedder, torch_embedder):
    texts = repository_texts(1000)
    assert sum(len(t) > 1500 for t in texts) >= 5, "some texts are past the model's 256 tokens"
    by_onnx = embedder.onnx_encoder().encode(texts, batch_size=64)
    by_torch = torch_embedder.encode(texts)
    cosines = np.sum(by_onnx * by_torch, axis=1)
    assert cosines.min() >= 0.9999, (cosines.min(), texts[int(cosines.argmin())][:80])
    one_by_one = np.stack([embedder.encode_queries([t])[0] for t in texts[:50]])  # no batch padding
    assert np.sum(one_by_one * by_torch[:50], axis=1).min() >= 0.9999


@pytest.mark.slow
def test_questions_encoded_either_way_find_the_same_top_five_on_the_gold_set(corpus_assistant, torch_embedder):
    """Every gold question, through the same index: the same five passages in the same order, in
    each retrieval mode, and the same answer."""
    torch_questions = Assistant(
        embedder=torch_embedder, index_dir=corpus_assistant.settings.index.index_dir, auto_ingest_corpus=False
    )
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").read_text().splitlines()]
    assert len(questions) >= 100
    for question in questions:
        for mode in ("dense", "hybrid"):
            by_onnx = corpus_assistant.ask(question, mode=mode)
            by_torch = torch_questions.ask(question, mode=mode)
            assert [p.chunk_id for p in by_onnx.passages] == [p.chunk_id for p in by_torch.passages], (question, mode)
            assert by_onnx.text == by_torch.text, question


@pytest.mark.slow
def test_asking_on_an_existing_index_never_imports_torch(corpus_assistant, tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        from qa import Assistant
        answer = Assistant(index_dir={str(corpus_assistant.settings.index.index_dir)!r}, auto_ingest_corpus=False).ask(
            "How many civilians were killed in Maarat al Numan?")
        heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
        print(heavy, answer.text)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.startswith("[] ") and "16 civilians" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_the_export_is_made_once_whole_and_reused(tmp_path, monkeypatch):
    embedder = Embedder.from_settings(IndexSettings(model_cache_dir=tmp_path / "cache"))
    folder = embedder.export_folder
    assert not folder.exists()
    embedder.warm_up_queries()  # exports with torch (the only time it is needed), then loads the copy
    assert is_exported(folder) and sorted(p.name for p in folder.iterdir()) == [
        "encoder.json",
        "model.onnx",
        "tokenizer.json",
    ]
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".partial")], "nothing half written is left"
    assert json.loads((folder / "encoder.json").read_text())["checked_cosine"] >= 0.9999
    stamp = (folder / "model.onnx").stat().st_mtime_ns

    again = Embedder.from_settings(IndexSettings(model_cache_dir=tmp_path / "cache"))
    monkeypatch.setattr(Embedder, "_load_torch", lambda self: pytest.fail("the copy is there: torch is not needed"))
    vectors = again.encode_queries(TEXTS)
    assert again.export_folder == folder and (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert np.allclose(vectors, embedder.encode_queries(TEXTS), atol=1e-6)


@pytest.mark.slow
def test_a_model_that_cannot_run_without_torch_runs_with_torch_and_says_why(tmp_path, caplog):
    """A model whose modules the torch-free encoder cannot run (here a Dense layer after pooling):
    documents and questions are encoded with torch, after one warning naming its modules; no
    copy is left behind."""
    from sentence_transformers import SentenceTransformer, models

    from qa.embeddings import resolve_model_path

    transformer = models.Transformer(resolve_model_path("all-MiniLM-L6-v2"))
    dense = SentenceTransformer(modules=[transformer, models.Pooling(384), models.Dense(384, 64)])
    dense.save(str(tmp_path / "dense-model"))

    embedder = Embedder(str(tmp_path / "dense-model"), "cpu", 8, False, "onnx", tmp_path / "cache", "onnx")
    with caplog.at_level("WARNING", logger="qa.embeddings"):
        documents = embedder.encode(["Shelling hit the town.", "Aid reached Saraqib."])
        question = embedder.encode_queries(["Where did aid arrive?"])
    assert documents.shape == (2, 64) and question.shape == (1, 64)
    expected = dense.encode(["Shelling hit the town.", "Aid reached Saraqib."], normalize_embeddings=True)
    assert np.allclose(documents, expected, atol=1e-5)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "its modules are Transformer > Pooling > Dense" in warnings[0], warnings
    assert not any(p.name.startswith("dense-model") and is_exported(p) for p in (tmp_path / "cache" / "onnx").glob("*"))


def test_a_cache_folder_it_cannot_write_runs_with_torch(tmp_path, caplog):
    """A read-only place for the copy (a service user's home): torch, with one warning, no traceback."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    embedder = Embedder.from_settings(IndexSettings(model_cache_dir=blocked / "cache"))
    with caplog.at_level("WARNING", logger="qa.embeddings"):
        vectors = embedder.encode_queries(TEXTS[:2])
    assert vectors.shape == (2, 384) and "cannot make or load the ONNX copy" in caplog.text


def test_pooling_is_sentence_transformers_pooling():
    import torch
    from sentence_transformers.models import Pooling

    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((3, 7, 8)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 3 + [0] * 4, [1] + [0] * 6], dtype=np.int64)
    for mode in ("mean", "cls", "max"):
        module = Pooling(8, pooling_mode=mode)
        expected = module({"token_embeddings": torch.from_numpy(hidden), "attention_mask": torch.from_numpy(mask)})
        assert np.allclose(pool(hidden, mask, mode), expected["sentence_embedding"].numpy(), atol=1e-6), mode
