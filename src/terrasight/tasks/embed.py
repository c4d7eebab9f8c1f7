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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import InvalidRasterError, UnknownModelError
from terrasight.io.rgb import read_rgb
from terrasight.models.hub import HUB_PREFIX

DEFAULT_MODEL = "terrasight-vl"
BATCH = 32
"""Images read and embedded at a time."""
ImageLike = str | Path | np.ndarray


@functools.lru_cache(maxsize=2)
def _load(name: str, checkpoint: str | None = None) -> Any:
    from terrasight.models.registry import create_model, get_config

    if get_config(name).kind != "vl":
        raise UnknownModelError(f"model {name!r} is not an image-text (kind 'vl') model")
    return create_model(name, checkpoint=checkpoint)


@functools.lru_cache(maxsize=2)
def _load_trained(path: str) -> Any:
    from terrasight.models.registry import create_model_from_file

    return create_model_from_file(path)


def load_model(
    model: str | Path | Any = DEFAULT_MODEL, checkpoint: str | Path | None = None
) -> Any:
    """The image-text model of a registry name or of a trained run's entry ``.json``
    (built once per process), or ``model`` itself when it is already a model.

    Args:
        model: a ``vl`` registry name (:func:`terrasight.models.list_models`), the entry
            ``.json`` written by ``terrasight train vl``, or a loaded model.
        checkpoint: the weights of a registry entry that does not ship them (the
            open_clip-format models ``remoteclip-vit-b-32``, ``open-clip-vit``...):
            a local file or folder, or a hub name ``hf-hub:ORG/REPO[/FILE]``.

    Raises:
        UnknownModelError: unknown name, or not a ``vl`` entry.
        ModelWeightsError: the entry file, its weights or the checkpoint are missing or corrupt.

    Example:
        >>> model = load_model("terrasight-vl")  # doctest: +SKIP
        >>> mine = load_model("runs/vl/terrasight-vl.json")  # doctest: +SKIP
        >>> clip = load_model("remoteclip-vit-b-32", "RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
    """
    if isinstance(model, Path) or (isinstance(model, str) and model.endswith(".json")):
        return _load_trained(str(Path(model).resolve()))
    if not isinstance(model, str):
        return model
    if checkpoint is not None and not str(checkpoint).startswith(HUB_PREFIX):
        checkpoint = Path(checkpoint).resolve()  # one cache entry per file, wherever run from
    return _load(model, None if checkpoint is None else str(checkpoint))


def as_rgb(image: ImageLike) -> np.ndarray:
    """An image path or array as uint8 ``(h, w, 3)`` (grey is repeated, alpha dropped).

    Paths go through :func:`terrasight.io.rgb.read_rgb`: photos as they are,
    GeoTIFFs with any bands or bit depth as a stretched red/green/blue picture.

    Raises:
        RasterReadError: the path is missing or not an image.
        InvalidRasterError: the array is not uint8 ``(h, w)``, ``(h, w, 1|3|4)``.

    Example:
        >>> as_rgb(np.zeros((4, 5), np.uint8)).shape
        (4, 5, 3)
    """
    if isinstance(image, (str, Path)):
        return read_rgb(image)
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
    images: ImageLike | Sequence[ImageLike],
    model: str | Any = DEFAULT_MODEL,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """L2-normalised float32 ``(N, D)`` embeddings of image paths or uint8 ``(h, w, 3)`` arrays.

    Images are read and embedded ``batch_size`` at a time, so a long list of
    paths never sits in memory at once; ``progress(n)`` is called after each batch.

    Example:
        >>> embed_images(["a.jpg", "b.jpg"]).shape  # doctest: +SKIP
        (2, 128)
    """
    items, step = _as_list(images), max(1, batch_size)
    vl = load_model(model)
    out = []
    for i in range(0, len(items), step):
        chunk = items[i : i + step]
        out.append(vl.embed_images([as_rgb(img) for img in chunk]))
        if progress is not None:
            progress(len(chunk))
    if not out:
        return vl.embed_images([])
    return np.concatenate(out).astype(np.float32, copy=False)


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
    logits = float(vl.logit_scale) * sims
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    return [(labels[i], float(probs[i])) for i in order]


def search(
    query: str,
    images: Sequence[ImageLike],
    k: int = 5,
    model: str | Any = DEFAULT_MODEL,
    progress: Callable[[int], None] | None = None,
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
    sims = embed_images(images, vl, progress=progress) @ embed_texts(query, vl)[0]
    order = np.argsort(-sims, kind="stable")[: max(k, 0)]
    return [
        (images[i] if isinstance(images[i], (str, Path)) else int(i), float(sims[i])) for i in order
    ]
