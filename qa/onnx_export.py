"""The model exported for the torch-free encoder (qa.onnx_encoder): its transformer through
torch.onnx, its tokenizer and how it pools, checked against torch's own vectors. The one step of
answering questions without torch that needs torch, once per machine and model (qa.embeddings
calls it at the first use of the onnx backend)."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .onnx_encoder import POOLINGS, EncoderSpec, OnnxEncoder, is_exported

logger = logging.getLogger(__name__)

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
