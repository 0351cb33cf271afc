"""Text to vectors without torch: ONNX Runtime over a copy of the model exported once on this
machine, the model's own tokenizer (the `tokenizers` library), and pooling in numpy.

Encoding a question this way imports onnxruntime, tokenizers and numpy (about 0.1 s) and loads
the copy in about 0.15 s, where torch and sentence-transformers take about 6 s to import. The
copy is made by qa.onnx_export (`export_onnx`, which needs torch) the first time a model is used
on a machine, checked there against torch's vectors, and kept in `model_cache_dir`:

    <model_cache_dir>/onnx/<model name>-<fingerprint>/
        model.onnx       the transformer, returning token embeddings
        tokenizer.json   the model's fast tokenizer
        encoder.json     how to pool and truncate (EncoderSpec), and what was checked

The fingerprint covers the model's files (names, sizes, modification times) and EXPORT_FORMAT,
so a changed model gets a new copy; a folder holds a whole copy or does not exist (it is
written under another name and renamed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

#: Bumped when what an export folder holds changes: older folders are then not used.
EXPORT_FORMAT = 1
POOLINGS = ("mean", "cls", "max")
SPEC_FILE = "encoder.json"
# Files of a model folder that do not shape its vectors (left out of the fingerprint).
_NOT_WEIGHTS = {"README.md", ".gitattributes", "data_config.json"}


@dataclass(frozen=True)
class EncoderSpec:
    """What turns the transformer's token embeddings into a sentence vector, as the exported model
    does it (read from the sentence-transformers model at export, see qa.onnx_export.export_onnx).

    Args:
        max_seq_length: tokens kept per text (longer texts are cut, as sentence-transformers does).
        pooling: how token embeddings become one vector: "mean" (over real tokens), "cls" or "max".
        input_names: the inputs the ONNX graph takes (input_ids, attention_mask, token_type_ids).
        checked_cosine: the lowest cosine between this copy's vectors and torch's on the check texts.
    """

    model: str
    dimension: int
    max_seq_length: int
    do_lower_case: bool
    pooling: str
    pad_id: int
    pad_token: str
    pad_type_id: int
    input_names: tuple[str, ...]
    checked_cosine: float
    format: int = EXPORT_FORMAT

    @classmethod
    def read(cls, folder: Path) -> EncoderSpec:
        raw = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
        raw["input_names"] = tuple(raw["input_names"])
        return cls(**raw)

    def write(self, folder: Path) -> None:
        (folder / SPEC_FILE).write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")


def export_folder(model: str, model_path: str, cache_dir: Path) -> Path:
    """Where the ONNX copy of a model is (or would be) kept: named by the model and a fingerprint
    of its files, read without loading them (see the module docstring)."""
    local = Path(model_path)
    if local.is_dir():
        files = sorted(
            (str(p.relative_to(local)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in local.rglob("*")
            if p.is_file() and p.name not in _NOT_WEIGHTS
        )
        identity = repr((str(local.resolve()), files, EXPORT_FORMAT))
    else:  # a hub name, resolved by sentence-transformers: the name is all there is to go on
        identity = repr((model_path, EXPORT_FORMAT))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model.strip("/").rsplit("/", 1)[-1]) or "model"
    return Path(cache_dir).expanduser() / "onnx" / f"{name}-{digest}"


def is_exported(folder: Path) -> bool:
    """Whether the folder holds a whole copy of the current format."""
    try:
        return EncoderSpec.read(folder).format == EXPORT_FORMAT and (folder / "model.onnx").is_file()
    except (OSError, ValueError, TypeError, KeyError):
        return False


class OnnxEncoder:
    """Encodes texts into L2-normalised float32 vectors from an export folder, without torch.

    Safe to call from several threads at once: the tokenizer's settings are fixed when it is
    loaded, and an ONNX Runtime session runs calls side by side.

    Raises:
        ConfigError: the folder is not a whole export, or onnxruntime/tokenizers are missing.
    """

    def __init__(self, folder: Path) -> None:
        if not is_exported(folder):
            raise ConfigError(f"no exported encoder in {folder}")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(f"the torch-free encoder needs onnxruntime and tokenizers: {exc}") from exc
        self.folder = folder
        self.spec = EncoderSpec.read(folder)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The file's own settings are not the model's (all-MiniLM-L6-v2 ships padding to 128):
        # cut at the model's length and pad to the longest text of each batch, as
        # sentence-transformers does.
        tokenizer.enable_truncation(max_length=self.spec.max_seq_length)
        tokenizer.enable_padding(
            pad_id=self.spec.pad_id, pad_token=self.spec.pad_token, pad_type_id=self.spec.pad_type_id
        )
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread per run: a question is one short text, and several questions (or an ingest's
        # batches, see `encode`) run side by side instead. Two threads on one question spent twice
        # the CPU for a third less time, and answered fewer questions a second in parallel.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: the optimiser's notes are not the user's business
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    def encode(self, texts: list[str], batch_size: int = 64, workers: int = 1) -> "np.ndarray":
        """Unit vectors for `texts`, one row each; the longest texts are batched together, as
        sentence-transformers does, so that little padding is computed; `workers` batches run at
        once (ONNX Runtime and the tokenizer let go of the GIL while they work)."""
        import numpy as np

        out = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[lo : lo + batch_size] for lo in range(0, len(texts), batch_size)]

        def run(rows: list[int]) -> None:
            out[rows] = self._vectors([texts[i] for i in rows])

        if workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(workers, len(batches)), thread_name_prefix="qa-encode") as pool:
                list(pool.map(run, batches))
        else:
            for rows in batches:
                run(rows)
        return out

    def _vectors(self, texts: list[str]) -> "np.ndarray":
        import numpy as np

        if self.spec.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        columns = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.spec.input_names:
            columns["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self.session.run(None, {name: columns[name] for name in self.spec.input_names})[0]
        vectors = pool(hidden, mask, self.spec.pooling)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def pool(hidden: "np.ndarray", mask: "np.ndarray", pooling: str) -> "np.ndarray":
    """One vector per text from its token embeddings (batch x tokens x dims), as
    sentence-transformers' Pooling module computes it."""
    import numpy as np

    if pooling == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(hidden.dtype)
    if pooling == "max":
        return np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
    if pooling == "mean":
        return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    raise ConfigError(f"unknown pooling {pooling!r}; the exported encoder knows {', '.join(POOLINGS)}")
