"""An int8 ONNX copy of the sentence model, exported and quantized on this machine from the
installed weights (nothing is downloaded), run with onnxruntime.

sentence-transformers' own export helpers need `optimum-onnx`, which pins transformers below
the version sentence-transformers needs, so the export is done here with `torch.onnx.export`
and onnxruntime's `quantize_dynamic`: weights quantized to int8 per output channel, activations
quantized on the fly. The copy is cached (one file, written atomically) and reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidSetting

_EXPORT_LOCK = threading.Lock()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def check_exportable(model_path: Path) -> None:
    """The int8 backend handles what the packaged model is: a BERT-like transformer with mean
    pooling and a fast tokenizer. Anything else is a clear error, not a silent wrong vector."""
    modules = _read_json(model_path / "modules.json")
    types = [m.get("type", "") for m in modules] if isinstance(modules, list) else []
    pooling = _read_json(model_path / "1_Pooling" / "config.json")
    if (not (model_path / "tokenizer.json").is_file()
            or not any(t.endswith("Transformer") for t in types)
            or not pooling.get("pooling_mode_mean_tokens")
            or any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                            "pooling_mode_mean_sqrt_len_tokens"))):
        raise InvalidSetting(
            f"QA_EMBED_BACKEND=onnx-int8 supports sentence-transformers models with mean pooling "
            f"and a tokenizer.json; {str(model_path)!r} is not one: use QA_EMBED_BACKEND=torch"
        )


def _weights_key(model_path: Path) -> str:
    """Names the exported copy after the weights it came from, so new weights mean a new copy."""
    h = hashlib.sha256()
    for f in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def _export(model_path: Path, cache_dir: Path, target: Path) -> None:
    """Export the transformer to ONNX, quantize it to int8, and move it into place."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):  # keyword arguments, and the last hidden state only
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 8, dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model-int8.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(model), (sample, sample, torch.zeros_like(sample)), str(fp32),
                dynamo=False, opset_version=17, input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"}
                              for n in names + ["last_hidden_state"]},
            )
        quantize_int8(fp32, int8)
        os.replace(int8, target)


def quantize_int8(fp32: Path, int8: Path) -> None:
    """onnxruntime's dynamic quantization: int8 weights per output channel, activations
    quantized on the fly. quantize_dynamic logs advice through the root logger, which installs
    a root handler as a side effect (and then libraries' debug logs print): both are undone."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    previous, handlers = logging.root.manager.disable, list(logging.root.handlers)
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(previous)
        logging.root.handlers[:] = handlers


def export_int8(model_path: Path, cache_dir: Path) -> Path:
    """The path of the int8 ONNX file for model_path, exporting it first if it is not cached."""
    check_exportable(model_path)
    target = cache_dir / f"{model_path.name}-{_weights_key(model_path)}-int8.onnx"
    if target.is_file():
        return target
    with _EXPORT_LOCK:
        if target.is_file():
            return target
        try:
            _export(model_path, cache_dir, target)
        except Exception as e:  # torch.onnx and the quantizer raise many kinds
            raise InvalidSetting(
                f"could not build the int8 ONNX copy of {model_path.name!r} in "
                f"{str(cache_dir)!r} ({type(e).__name__}: {e}); use QA_EMBED_BACKEND=torch"
            ) from e
    return target


class OnnxSentenceModel:
    """Tokenize, run the int8 graph, mean-pool over real tokens, normalise: what the
    sentence-transformers pipeline of the model does, with the same encode() signature."""

    def __init__(self, onnx_path: Path, model_path: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = _read_json(model_path / "sentence_bert_config.json")
        self.max_tokens = int(config.get("max_seq_length") or 256)
        self.dimension = int(_read_json(model_path / "config.json").get("hidden_size") or 0)
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()  # tokenizer.json pads to 128; batches pad to their longest
        self._pad_id = self._tokenizer.token_to_id(
            _read_json(model_path / "tokenizer_config.json").get("pad_token") or "[PAD]") or 0
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # idle threads sleep instead of spinning: ingest stores in Chroma while this runs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(onnx_path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = True,
               **_: Any) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # like lengths pad least
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encoded = self._tokenizer.encode_batch([texts[i] for i in order])  # all at once
        for start in range(0, len(texts), batch_size):
            batch = encoded[start:start + batch_size]
            width = max(len(e.ids) for e in batch)
            ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, e in enumerate(batch):
                ids[row, :len(e.ids)] = e.ids
                mask[row, :len(e.ids)] = e.attention_mask
            feed = {"input_ids": ids, "attention_mask": mask,
                    "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feed.items()
                                              if k in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if normalize_embeddings:
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[order[start:start + batch_size]] = pooled
        return out
