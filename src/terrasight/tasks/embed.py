"""Image-text embeddings: embed images and texts, zero-shot classification, small in-memory search.

The models are ``kind == "vl"`` registry entries (default ``terrasight-vl``):
a frozen EfficientNet-Lite0 and a frozen all-MiniLM-L6-v2 with trained
projections (:mod:`terrasight.models.vl_net`). They need PyTorch and
sentence-transformers (``pip install terrasight[learned]``), imported on first use.

Example:
    >>> from terrasight.tasks.embed import classify, search
    >>> classify("scene.jpg", ["forest", "airport", "beach"])  # doctest: +SKIP
    [('airport', 0.93), ('beach', 0.05), ('forest', 0.02)]
    >>> search("a river crossing farmland", ["a.jpg", "b.jpg"], k=1)  # doctest: +SKIP
    [('b.jpg', 0.41)]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import InvalidRasterError, RasterReadError, UnknownMethodError

DEFAULT_MODEL = "terrasight-vl"
ImageLike = str | Path | np.ndarray


@functools.lru_cache(maxsize=2)
def _load(name: str) -> Any:
    from terrasight.models.registry import create_model, get_config

    if get_config(name).kind != "vl":
        raise UnknownMethodError(f"model {name!r} is not an image-text (kind 'vl') model")
    return create_model(name)


@functools.lru_cache(maxsize=2)
def _load_trained(path: str) -> Any:
    from terrasight.models.vl_net import load_trained

    return load_trained(path)


def load_model(model: str | Path | Any = DEFAULT_MODEL) -> Any:
    """The image-text model of a registry name or of a trained run's entry ``.json``
    (built once per process), or ``model`` itself when it is already a model.

    Raises:
        UnknownMethodError: unknown name, or not a ``vl`` entry.
        ModelWeightsError: the entry file or its weights are missing or corrupt.

    Example:
        >>> model = load_model("terrasight-vl")  # doctest: +SKIP
        >>> mine = load_model("runs/vl/terrasight-vl.json")  # doctest: +SKIP
    """
    if isinstance(model, Path) or (isinstance(model, str) and model.endswith(".json")):
        return _load_trained(str(Path(model).resolve()))
    return _load(model) if isinstance(model, str) else model


def as_rgb(image: ImageLike) -> np.ndarray:
    """An image path or array as uint8 ``(h, w, 3)`` (grey is repeated, alpha dropped).

    Raises:
        RasterReadError: the path is missing or not an image.
        InvalidRasterError: the array is not uint8 ``(h, w)``, ``(h, w, 1|3|4)``.

    Example:
        >>> as_rgb(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    if isinstance(image, (str, Path)):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(image) as img:
                return np.asarray(img.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise RasterReadError(
                f"cannot read image {image}: {exc}. Pass a JPEG/PNG/TIFF path or a uint8 array."
            ) from exc
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or min(arr.shape[:2]) < 1:
        raise InvalidRasterError(
            f"image array of dtype {arr.dtype} and shape {arr.shape}: expected uint8 (h, w, 3)"
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] not in (1, 3, 4):
        raise InvalidRasterError(f"image array with {arr.shape[2]} channels: expected 1, 3 or 4")
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[..., :3]


def _as_list(images: ImageLike | Sequence[ImageLike]) -> list[ImageLike]:
    if isinstance(images, (str, Path)) or (isinstance(images, np.ndarray) and images.ndim <= 3):
        return [images]
    return list(images)


def embed_images(
    images: ImageLike | Sequence[ImageLike], model: str | Any = DEFAULT_MODEL
) -> np.ndarray:
    """L2-normalised float32 ``(N, D)`` embeddings of image paths or uint8 ``(h, w, 3)`` arrays.

    Example:
        >>> embed_images(["a.jpg", "b.jpg"]).shape  # doctest: +SKIP
        (2, 256)
    """
    rgb = [as_rgb(img) for img in _as_list(images)]
    return load_model(model).embed_images(rgb)


def embed_texts(texts: str | Sequence[str], model: str | Any = DEFAULT_MODEL) -> np.ndarray:
    """L2-normalised float32 ``(N, D)`` embeddings of texts, comparable with :func:`embed_images`.

    Example:
        >>> embed_texts(["a harbour with many boats"]).shape  # doctest: +SKIP
        (1, 256)
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    return load_model(model).embed_texts(texts)


def label_embeddings(
    labels: Sequence[str], templates: Sequence[str] | None = None, model: str | Any = DEFAULT_MODEL
) -> np.ndarray:
    """One normalised embedding per label: the mean over prompt templates (``"... {} ..."``).

    Example:
        >>> label_embeddings(["forest", "port"], ["an aerial image of a {}."]).shape  # doctest: +SKIP
        (2, 256)
    """
    vl = load_model(model)
    templates = list(templates or vl.params.get("templates") or ["an aerial image of a {}."])
    prompts = [t.format(label) for label in labels for t in templates]
    emb = vl.embed_texts(prompts).reshape(len(labels), len(templates), -1).mean(axis=1)
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


def classify(
    image: ImageLike,
    labels: Sequence[str],
    templates: Sequence[str] | None = None,
    model: str | Any = DEFAULT_MODEL,
) -> list[tuple[str, float]]:
    """Zero-shot classification: ``(label, probability)`` pairs, most likely first.

    Args:
        image: a path or a uint8 array.
        labels: candidate class names (``"airport"``, ``"dense residential"``...).
        templates: prompt templates with one ``{}``; default: the model's own.
        model: a registry name or a loaded model.

    Raises:
        ValueError: no labels.

    Example:
        >>> classify("scene.jpg", ["forest", "airport"])  # doctest: +SKIP
        [('airport', 0.97), ('forest', 0.03)]
    """
    if not labels:
        raise ValueError("classify needs at least one label")
    vl = load_model(model)
    sims = embed_images(image, vl)[0] @ label_embeddings(labels, templates, vl).T
    logits = float(vl.heads.logit_scale.detach().exp()) * sims
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    return [(labels[i], float(probs[i])) for i in order]


def search(
    query: str,
    images: Sequence[ImageLike],
    k: int = 5,
    model: str | Any = DEFAULT_MODEL,
) -> list[tuple[Any, float]]:
    """The ``k`` images most similar to a text query, best first, with cosine similarities.

    Returns the path for images given as paths and the index for arrays.

    Example:
        >>> search("a stadium", ["a.jpg", "b.jpg"], k=1)  # doctest: +SKIP
        [('b.jpg', 0.38)]
    """
    images = list(images)
    if not images:
        return []
    vl = load_model(model)
    sims = embed_images(images, vl) @ embed_texts(query, vl)[0]
    order = np.argsort(-sims, kind="stable")[: max(k, 0)]
    return [
        (images[i] if isinstance(images[i], (str, Path)) else int(i), float(sims[i])) for i in order
    ]
