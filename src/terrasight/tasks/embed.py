"""Image-text embeddings: embed images and texts, zero-shot classification, small in-memory search.

The models are ``kind == "vl"`` registry entries (default ``terrasight-vl``):
a frozen EfficientNet-Lite0 and a frozen all-MiniLM-L6-v2 with trained
projections (:mod:`terrasight.models.vl_net`). They need PyTorch and
sentence-transformers (``pip install terrasight[learned]``), imported on first use.

Nothing is kept between calls unless the caller passes a
:class:`~terrasight.models.runtime.ModelCache` (``cache=``): it then holds the loaded
models and the label embeddings of :func:`classify`, for as long as the caller keeps it.

Example:
    >>> from terrasight.tasks.embed import classify, search
    >>> classify("scene.jpg", ["forest", "airport", "beach"])  # doctest: +SKIP
    [('airport', 0.93), ('beach', 0.05), ('forest', 0.02)]
    >>> search("a river crossing farmland", ["a.jpg", "b.jpg"], k=1)  # doctest: +SKIP
    [('b.jpg', 0.41)]
    >>> from terrasight.models.runtime import ModelCache
    >>> cache = ModelCache()
    >>> classify(["a.jpg", "b.jpg"], ["forest", "port"], cache=cache)  # doctest: +SKIP
    [[('forest', 0.8), ('port', 0.2)], [('port', 0.9), ('forest', 0.1)]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from terrasight.errors import InvalidRasterError, UnknownModelError
from terrasight.io.rgb import read_rgb
from terrasight.models.hub import HUB_PREFIX
from terrasight.models.runtime import cached

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

DEFAULT_MODEL = "terrasight-vl"
DEFAULT_TEMPLATES = ("an aerial image of a {}.",)
"""Prompt templates of models that name none."""
BATCH = 32
"""Images read and embedded at a time."""
ImageLike = str | Path | np.ndarray
Ranking = list[tuple[str, float]]
T = TypeVar("T")


def load_model(
    model: str | Path | Any = DEFAULT_MODEL,
    checkpoint: str | Path | None = None,
    cache: ModelCache | None = None,
) -> Any:
    """The image-text model of a registry name or of a trained run's entry ``.json``,
    or ``model`` itself when it is already a model.

    Args:
        model: a ``vl`` registry name (:func:`terrasight.models.list_models`), the entry
            ``.json`` written by ``terrasight train vl``, or a loaded model.
        checkpoint: the weights of a registry entry that does not ship them (the
            open_clip-format models ``remoteclip-vit-b-32``, ``open-clip-vit``...):
            a local file or folder, or a hub name ``hf-hub:ORG/REPO[/FILE]``.
        cache: keeps the model for later calls given the same cache; without one the
            model is loaded for the caller alone.

    Raises:
        UnknownModelError: unknown name, or not a ``vl`` entry.
        ModelWeightsError: the entry file, its weights or the checkpoint are missing or corrupt.

    Example:
        >>> model = load_model("terrasight-vl")  # doctest: +SKIP
        >>> mine = load_model("runs/vl/terrasight-vl.json")  # doctest: +SKIP
        >>> clip = load_model("remoteclip-vit-b-32", "RemoteCLIP-ViT-B-32.pt")  # doctest: +SKIP
    """
    from terrasight.models.registry import create_model, create_model_from_file, get_config

    if isinstance(model, Path) or (isinstance(model, str) and model.endswith(".json")):
        path = Path(model).resolve()
        return cached(cache, ("model-file", str(path)), lambda: create_model_from_file(path))
    if not isinstance(model, str):
        return model
    if get_config(model).kind != "vl":
        raise UnknownModelError(f"model {model!r} is not an image-text (kind 'vl') model")
    if checkpoint is not None and not str(checkpoint).startswith(HUB_PREFIX):
        checkpoint = Path(checkpoint).resolve()  # one cache entry per file, wherever run from
    found = None if checkpoint is None else str(checkpoint)
    if cache is None:
        return create_model(model, checkpoint=found)
    return cache.model(model, found)


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


def _is_single(images: ImageLike | Sequence[ImageLike]) -> bool:
    return isinstance(images, (str, Path)) or (isinstance(images, np.ndarray) and images.ndim <= 3)


def _as_list(images: ImageLike | Sequence[ImageLike]) -> list[ImageLike]:
    return [images] if _is_single(images) else list(images)  # type: ignore[arg-type,list-item]


def embed_images(
    images: ImageLike | Sequence[ImageLike],
    model: str | Any = DEFAULT_MODEL,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
    cache: ModelCache | None = None,
) -> np.ndarray:
    """L2-normalised float32 ``(N, D)`` embeddings of image paths or uint8 ``(h, w, 3)`` arrays.

    Images are read and embedded ``batch_size`` at a time, so a long list of
    paths never sits in memory at once; ``progress(n)`` is called after each batch.
    ``cache`` keeps the model loaded by name for later calls (see :func:`load_model`).

    Example:
        >>> embed_images(["a.jpg", "b.jpg"]).shape  # doctest: +SKIP
        (2, 128)
    """
    items, step = _as_list(images), max(1, batch_size)
    vl = load_model(model, cache=cache)
    out = []
    for i in range(0, len(items), step):
        chunk = items[i : i + step]
        out.append(vl.embed_images([as_rgb(img) for img in chunk]))
        if progress is not None:
            progress(len(chunk))
    if not out:
        return vl.embed_images([])
    return np.concatenate(out).astype(np.float32, copy=False)


def embed_texts(
    texts: str | Sequence[str], model: str | Any = DEFAULT_MODEL, cache: ModelCache | None = None
) -> np.ndarray:
    """L2-normalised float32 ``(N, D)`` embeddings of texts, comparable with :func:`embed_images`.

    Example:
        >>> embed_texts(["a harbour with many boats"]).shape  # doctest: +SKIP
        (1, 256)
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    return load_model(model, cache=cache).embed_texts(texts)


def label_embeddings(
    labels: Sequence[str],
    templates: Sequence[str] | None = None,
    model: str | Any = DEFAULT_MODEL,
    cache: ModelCache | None = None,
) -> np.ndarray:
    """One normalised embedding per label: the mean over prompt templates (``"... {} ..."``).

    All prompts are embedded in one call. With ``cache``, a label set is embedded once per
    model and templates for as long as the cache keeps it (the array is then read-only).

    Example:
        >>> label_embeddings(["forest", "port"], ["an aerial image of a {}."]).shape  # doctest: +SKIP
        (2, 256)
    """
    vl = load_model(model, cache=cache)
    labels = tuple(labels)
    templates = tuple(templates or vl.params.get("templates") or DEFAULT_TEMPLATES)

    def embed() -> np.ndarray:
        prompts = [t.format(label) for label in labels for t in templates]
        emb = vl.embed_texts(prompts).reshape(len(labels), len(templates), -1).mean(axis=1)
        emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
        emb.setflags(write=False)
        return emb

    # the key holds the model itself, not its id: an entry can never match another model
    return cached(cache, ("label-embeddings", vl, labels, templates), embed)


@overload
def classify(  # type: ignore[overload-overlap]  # a str is also a sequence
    image: ImageLike,
    labels: Sequence[str],
    templates: Sequence[str] | None = ...,
    model: str | Any = ...,
    cache: ModelCache | None = ...,
) -> Ranking: ...


@overload
def classify(
    image: Sequence[ImageLike],
    labels: Sequence[str],
    templates: Sequence[str] | None = ...,
    model: str | Any = ...,
    cache: ModelCache | None = ...,
) -> list[Ranking]: ...


def classify(
    image: ImageLike | Sequence[ImageLike],
    labels: Sequence[str],
    templates: Sequence[str] | None = None,
    model: str | Any = DEFAULT_MODEL,
    cache: ModelCache | None = None,
) -> Ranking | list[Ranking]:
    """Zero-shot classification: ``(label, probability)`` pairs, most likely first.

    Args:
        image: a path or a uint8 array, or a list of them (then one ranking per image).
        labels: candidate class names (``"airport"``, ``"dense residential"``...).
        templates: prompt templates with one ``{}``; default: the model's own.
        model: a registry name or a loaded model.
        cache: keeps the model and the label embeddings for later calls with the same
            cache; the labels' prompts are embedded once per call in any case.

    Raises:
        ValueError: no labels.

    Example:
        >>> classify("scene.jpg", ["forest", "airport"])  # doctest: +SKIP
        [('airport', 0.97), ('forest', 0.03)]
        >>> classify(["a.jpg", "b.jpg"], ["forest", "airport"])  # doctest: +SKIP
        [[('forest', 0.9), ('airport', 0.1)], [('airport', 0.6), ('forest', 0.4)]]
    """
    if not labels:
        raise ValueError("classify needs at least one label")
    items = _as_list(image)
    vl = load_model(model, cache=cache)
    text = label_embeddings(labels, templates, vl, cache=cache)
    logits = float(vl.logit_scale) * (embed_images(items, vl) @ text.T)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    ranked = [
        [(labels[i], float(row[i])) for i in np.argsort(-row, kind="stable")] for row in probs
    ]
    return ranked[0] if _is_single(image) else ranked


def search(
    query: str,
    images: Sequence[ImageLike],
    k: int = 5,
    model: str | Any = DEFAULT_MODEL,
    progress: Callable[[int], None] | None = None,
    cache: ModelCache | None = None,
) -> list[tuple[Any, float]]:
    """The ``k`` images most similar to a text query, best first, with cosine similarities.

    Returns the path for images given as paths and the index for arrays.
    ``cache`` keeps the model loaded by name for later calls (see :func:`load_model`).

    Example:
        >>> search("a stadium", ["a.jpg", "b.jpg"], k=1)  # doctest: +SKIP
        [('b.jpg', 0.38)]
    """
    images = list(images)
    if not images:
        return []
    vl = load_model(model, cache=cache)
    sims = embed_images(images, vl, progress=progress) @ embed_texts(query, vl)[0]
    order = np.argsort(-sims, kind="stable")[: max(k, 0)]
    return [
        (images[i] if isinstance(images[i], (str, Path)) else int(i), float(sims[i])) for i in order
    ]
