"""Scene captions of one image, by retrieval: the consensus caption of its nearest bank images.

Method (Devlin et al. 2015, "Exploring nearest neighbor approaches for image
captioning", with a class prior):

1. embed the image with the image-text model and find its ``k`` nearest bank
   images (cosine similarity of image embeddings);
2. the scene classes: the share of those neighbours of each class;
3. every caption of those neighbours is a candidate; its consensus score is its
   mean CIDEr-like similarity (tf-idf weighted 1- to 4-grams, idf over the
   candidates, a Gaussian length penalty) to the other candidates, plus
   ``CLASS_WEIGHT`` times the share of neighbours of its image's class;
4. the best candidate is the caption; the next best different captions are the
   runners-up.

Bank and settings were chosen on the caption-dev images (see
``benchmarks/caption_accuracy.py``). Deterministic: ties go to the caption met first.

Example:
    >>> from terrasight.tasks.interpret.scene import caption_image
    >>> caption_image("aid/Beach/beach_1.jpg").text  # doctest: +SKIP
    'yellow beach is near a piece of green ocean with white waves .'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from terrasight.errors import InvalidOptionError, TerrasightError
from terrasight.io.raster import open_raster
from terrasight.io.rgb import grey_bands
from terrasight.models.runtime import cached
from terrasight.tasks.embed import DEFAULT_MODEL, ImageLike, embed_images, load_model
from terrasight.tasks.interpret.bank import (
    CaptionBank,
    check_bank_model,
    class_words,
    load_caption_bank,
)

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache

K = 30
"""Nearest bank images whose captions are the candidates."""
CLASS_WEIGHT = 1.0
"""Weight of the neighbours' class vote in a candidate's score."""
SIGMA = 6.0
"""Length penalty of the consensus similarity (words), as CIDEr-D's."""
MAX_N = 4
TOP_CLASSES = 3
TOP_CANDIDATES = 4


@dataclass(frozen=True)
class SceneCaption:
    """A caption of one image.

    Attributes:
        text: the caption.
        classes: the most likely scene classes (``"dense residential"``) with their
            share of the image's nearest bank images, highest first.
        candidates: runner-up captions with their consensus scores, best first
            (the caption's own score is above all of theirs).
        caveats: why the caption may be wrong (a grey image: the model knows colour
            photographs only).

    Example:
        >>> SceneCaption("a river .", (("river", 0.9),), (("a lake .", 0.4),)).to_dict()["text"]
        'a river .'
    """

    text: str
    classes: tuple[tuple[str, float], ...]
    candidates: tuple[tuple[str, float], ...]
    caveats: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON.

        Example:
            >>> SceneCaption("x .", (("forest", 1.0),), ()).to_dict()["classes"]
            [{'class': 'forest', 'score': 1.0}]
        """
        return {
            "text": self.text,
            "classes": [{"class": c, "score": s} for c, s in self.classes],
            "candidates": [{"text": t, "score": s} for t, s in self.candidates],
            "caveats": list(self.caveats),
        }


def _count_matrix(tokens: Sequence[Sequence[str]], n: int) -> np.ndarray:
    vocab: dict[tuple[str, ...], int] = {}
    rows = []
    for toks in tokens:
        grams = Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))
        rows.append({vocab.setdefault(g, len(vocab)): c for g, c in grams.items()})
    out = np.zeros((len(tokens), max(1, len(vocab))), np.float64)
    for r, row in enumerate(rows):
        for j, c in row.items():
            out[r, j] = c
    return out


def consensus_scores(texts: Sequence[str], sigma: float = SIGMA) -> np.ndarray:
    """Each text's mean CIDEr-like similarity to the other texts (0 for a single text).

    The similarity of two texts: the mean over n = 1..4 of the cosine of their
    tf-idf n-gram vectors (idf over ``texts``), times ``exp(-d^2 / (2 sigma^2))`` for a
    length difference of ``d`` words. Repeated texts count as often as they occur
    (each is computed once).

    Example:
        >>> s = consensus_scores(["a red roof .", "a red roof .", "a green park ."])
        >>> int(np.argmax(s)), bool(s[0] > s[2])
        (0, True)
    """
    size = len(texts)
    if size < 2:
        return np.zeros(size)
    unique, inverse, counts = np.unique(np.asarray(texts), return_inverse=True, return_counts=True)
    tokens = [str(t).split() for t in unique]
    weight = counts.astype(np.float64)
    sim = np.zeros((len(unique), len(unique)))
    for n in range(1, MAX_N + 1):
        grams = _count_matrix(tokens, n)
        idf = np.log(size / np.maximum(weight @ (grams > 0), 1))
        vec = grams * idf
        vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        sim += vec @ vec.T
    lengths = np.array([len(t) for t in tokens], np.float64)
    gap = lengths[:, None] - lengths[None, :]
    sim *= np.exp(-(gap**2) / (2 * sigma**2)) / MAX_N
    per_unique = (sim @ weight - np.diag(sim)) / (size - 1)
    return per_unique[inverse.ravel()]


def _nearest(embedding: np.ndarray, bank: CaptionBank, k: int) -> np.ndarray:
    sims = bank.image_embeddings @ np.asarray(embedding, np.float32).ravel()
    return np.argsort(-sims, kind="stable")[:k]


def caption_embedding(
    embedding: np.ndarray, bank: CaptionBank, k: int = K, class_weight: float = CLASS_WEIGHT
) -> SceneCaption:
    """The caption of an image given by its embedding in the bank's model.

    ``class_weight`` weighs the neighbours' class vote in a candidate's score (0: consensus
    alone).

    Raises:
        InvalidOptionError: ``k`` below 1, or an embedding of the wrong size.

    Example:
        >>> emb = embed_images("aid/Beach/beach_1.jpg")[0]  # doctest: +SKIP
        >>> caption_embedding(emb, load_caption_bank()).classes  # doctest: +SKIP
        (('beach', 1.0),)
    """
    dim = bank.image_embeddings.shape[1]
    if k < 1:
        raise InvalidOptionError(f"caption k={k}: the number of neighbours must be at least 1")
    if np.size(embedding) != dim:
        raise InvalidOptionError(
            f"embedding of size {np.size(embedding)}: the caption bank's model embeds in {dim} "
            "dimensions; embed the image with the bank's model"
        )
    near = _nearest(embedding, bank, k)
    vote = np.bincount(bank.image_class[near], minlength=len(bank.classes)) / len(near)
    chosen = np.flatnonzero(np.isin(bank.pair_image, near))
    caption_ids = bank.pair_caption[chosen]
    texts = [bank.captions[i] for i in caption_ids]
    scores = (
        consensus_scores(texts) + class_weight * vote[bank.image_class[bank.pair_image[chosen]]]
    )
    best: dict[int, float] = {}
    for i in np.argsort(-scores, kind="stable"):
        best.setdefault(int(caption_ids[i]), float(scores[i]))
    ranked = list(best.items())
    top = np.argsort(-vote, kind="stable")[:TOP_CLASSES]
    return SceneCaption(
        text=bank.captions[ranked[0][0]],
        classes=tuple((class_words(bank.classes[c]), float(vote[c])) for c in top if vote[c] > 0),
        candidates=tuple((bank.captions[c], s) for c, s in ranked[1 : 1 + TOP_CANDIDATES]),
    )


def caption_image(
    image: ImageLike,
    model: str | Path | Any = DEFAULT_MODEL,
    bank: CaptionBank | str | Path | None = None,
    cache: ModelCache | None = None,
    k: int = K,
) -> SceneCaption:
    """Describe one image: the consensus caption of its ``k`` nearest bank images.

    Args:
        image: a path (any image or GeoTIFF :func:`terrasight.io.rgb.read_rgb` reads) or a
            uint8 ``(h, w, 3)`` array.
        model: the image-text model (registry name, a run's entry ``.json`` or a loaded model);
            it must be the one that built the bank.
        bank: a :class:`~terrasight.tasks.interpret.bank.CaptionBank`, a bank file, or
            ``None`` for the shipped bank (``terrasight-vl`` with RSICD captions).
        cache: keeps the model and the bank for later calls with the same cache.
        k: nearest bank images whose captions are the candidates.

    Raises:
        ModelWeightsError: the bank was built with another model, or is missing or corrupt.
        RasterReadError, InvalidRasterError: the image cannot be read or used.

    Example:
        >>> cap = caption_image("aid/Beach/beach_1.jpg")  # doctest: +SKIP
        >>> cap.text, cap.classes[0]  # doctest: +SKIP
        ('yellow beach is near a piece of green ocean with white waves .', ('beach', 1.0))
        >>> cap.candidates[0]  # doctest: +SKIP
        ('a piece of green ocean with white waves is near yellow beach .', 1.159...)
    """
    found = bank if isinstance(bank, CaptionBank) else load_caption_bank(bank, cache=cache)
    vl = load_model(model, cache=cache)
    cached(cache, ("caption-bank-checked", found, vl), lambda: check_bank_model(found, model, vl))
    caption = caption_embedding(embed_images(image, vl, cache=cache)[0], found, k=k)
    return replace(caption, caveats=(GREY_CAVEAT,)) if _grey(image) else caption


GREY_CAVEAT = (
    "the image is grey (one band, or three identical ones: radar or panchromatic?); the "
    "caption model has seen colour photographs only, so its words and classes are a guess"
)


def _grey(image: ImageLike) -> bool:
    """Whether ``image`` has no colour: one or two bands, or three identical ones."""
    if isinstance(image, np.ndarray):
        if image.ndim == 2 or image.shape[-1] == 1:
            return True
        flat = image.min() == image.max()
        same = np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(
            image[..., 1], image[..., 2]
        )
        return bool(same and not flat)
    try:
        source = open_raster(image)
    except TerrasightError:
        return False  # the caption's own read says what is wrong
    return source.count < 3 or grey_bands(source, [1, 2, 3])
