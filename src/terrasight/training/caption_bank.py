"""Build a caption bank (:mod:`terrasight.tasks.interpret.bank`) from AID images and RSICD captions.

The bank holds the images the image-text model was trained on, never its
validation images (the split of :func:`terrasight.training.vl_data.is_validation`
with the model's own ``val_fraction``), so captions can be scored on those.
Everything is sorted (images by name, captions alphabetically) and the file is
written with fixed zip dates: two builds with the same data and model give the same
arrays (and, with the same PyTorch build and thread count, the same bytes).

Example:
    >>> bank = build_caption_bank("../shared/data")  # doctest: +SKIP
    >>> write_caption_bank(bank, "rsicd-caption-bank-v1.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import DatasetLayoutError, InvalidOptionError
from terrasight.models.runtime import torch_threads
from terrasight.tasks.embed import embed_images, load_model
from terrasight.tasks.interpret.bank import (
    CaptionBank,
    model_identity,
    probe_image,
    write_caption_bank,
)
from terrasight.training.vl_data import (
    Pair,
    cached_features,
    is_validation,
    load_pairs,
    split_pairs,
)

__all__ = [
    "CAPTION_TEST_SALT",
    "bank_pairs",
    "build_caption_bank",
    "caption_eval_pairs",
    "caption_split",
    "model_val_fraction",
    "write_caption_bank",
]

DEFAULT_VAL_FRACTION = 0.1
"""Validation share assumed for a model whose entry records no training configuration."""
CAPTION_TEST_SALT = "terrasight-caption-test"
"""Salt of the second hash that splits the model's validation images into caption-dev and
caption-test (about half each)."""


def model_val_fraction(model: str | Path) -> float:
    """The validation share a model was trained with (its entry's training configuration).

    Example:
        >>> model_val_fraction("terrasight-vl")
        0.1
    """
    from terrasight.models.config import ModelConfig
    from terrasight.models.registry import get_config

    if str(model).endswith(".json"):
        config = ModelConfig.from_dict(json.loads(Path(model).read_text(encoding="utf-8")))
    else:
        config = get_config(str(model))
    training = config.extra.get("training", {}).get("config", {})
    return float(training.get("val_fraction", DEFAULT_VAL_FRACTION))


def caption_split(name: str) -> str:
    """``"test"`` or ``"dev"``: the caption split of a validation image (a seeded hash of its
    name, independent of the model's own split).

    Example:
        >>> caption_split("airport_1.jpg") in ("dev", "test")
        True
    """
    return "test" if is_validation(name, 0.5, salt=CAPTION_TEST_SALT) else "dev"


def caption_eval_pairs(data: str | Path, val_fraction: float, split: str) -> list[Pair]:
    """The model's validation images (never in its bank) of caption split ``split``.

    Raises:
        InvalidOptionError: ``split`` is not ``dev`` or ``test``.

    Example:
        >>> len(caption_eval_pairs("../shared/data", 0.1, "test"))  # doctest: +SKIP
        418
    """
    if split not in ("dev", "test"):
        raise InvalidOptionError(f"caption split {split!r}: expected 'dev' or 'test'")
    _, val = split_pairs(load_pairs(Path(data) / "aid", Path(data) / "rsicd"), val_fraction)
    return [p for p in val if caption_split(p.name) == split]


def bank_pairs(
    data: str | Path,
    val_fraction: float,
    classes: Sequence[str] | None = None,
    per_class: int | None = None,
) -> list[Pair]:
    """The bank's images: training images of ``classes`` (default all), at most
    ``per_class`` of each (the first by name).

    Raises:
        DatasetLayoutError: the data folder lacks ``aid/`` or ``rsicd/`` files, or no
            image is left.

    Example:
        >>> len(bank_pairs("../shared/data", 0.1))  # doctest: +SKIP
        8114
    """
    data = Path(data)
    train, _ = split_pairs(load_pairs(data / "aid", data / "rsicd"), val_fraction)
    wanted = None if classes is None else set(classes)
    kept, seen = [], dict[str, int]()
    for pair in train:
        if wanted is not None and pair.label not in wanted:
            continue
        seen[pair.label] = seen.get(pair.label, 0) + 1
        if per_class is None or seen[pair.label] <= per_class:
            kept.append(pair)
    if not kept:
        raise DatasetLayoutError(
            f"no training image of classes {sorted(wanted or [])} in {data / 'aid'}; class "
            "names are the AID folder names (DenseResidential, Airport, ...)"
        )
    return kept


def _embeddings(
    pairs: Sequence[Pair], vl: Any, sha: str, cache_dir: Path | None, progress: Any
) -> np.ndarray:
    paths = {p.name: p.path for p in pairs}

    def compute(names: list[str]) -> np.ndarray:
        return embed_images([paths[n] for n in names], vl)

    names = [p.name for p in pairs]
    if cache_dir is None:
        out = [compute(names[i : i + 64]) for i in range(0, len(names), 64)]
        return np.concatenate(out)
    cache = Path(cache_dir) / f"caption-bank-images-{sha[:16]}.npz"
    return cached_features(names, cache, compute, batch=64, progress=progress)


def build_caption_bank(
    data: str | Path,
    model: str | Path = "terrasight-vl",
    val_fraction: float | None = None,
    classes: Sequence[str] | None = None,
    per_class: int | None = None,
    cache_dir: str | Path | None = None,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> CaptionBank:
    """The caption bank of ``model`` over the training images under ``data`` (``aid/``, ``rsicd/``).

    Args:
        data: the shared data folder (``aid/<Class>/*.jpg``, ``rsicd/train_*.txt``).
        model: a ``vl`` registry name or a training run's entry ``.json``.
        val_fraction: images held out of the bank; default: the model's own validation share.
        classes, per_class: a smaller bank (tests, experiments): these AID classes only, at
            most ``per_class`` images each.
        cache_dir: keep the image embeddings there between runs (keyed by the model's digest).
        threads: PyTorch threads.
        progress: ``progress(done, total)`` after each batch of images (with ``cache_dir``).

    Raises:
        InvalidOptionError: ``model`` is a loaded model (its identity cannot be recorded).
        DatasetLayoutError: missing data files, or no image selected.

    Example:
        >>> bank = build_caption_bank("../shared/data", classes=["Beach"], per_class=20)  # doctest: +SKIP
        >>> len(bank.image_names)  # doctest: +SKIP
        20
    """
    if not isinstance(model, (str, Path)):
        raise InvalidOptionError(
            "build_caption_bank needs the model's registry name or entry .json, not a loaded "
            "model: the bank records the model's name and weights digest"
        )
    identity = model_identity(model)
    assert identity is not None  # a name or an entry file
    fraction = model_val_fraction(model) if val_fraction is None else val_fraction
    pairs = bank_pairs(data, fraction, classes, per_class)
    vl = load_model(model)
    with torch_threads(threads):
        emb = _embeddings(
            pairs, vl, identity[1], None if cache_dir is None else Path(cache_dir), progress
        )
        probe = embed_images(probe_image(), vl)[0]
    captions = sorted({c for p in pairs for c in p.captions})
    index = {c: i for i, c in enumerate(captions)}
    class_names = sorted({p.label for p in pairs})
    return CaptionBank(
        captions=tuple(captions),
        image_names=tuple(p.name for p in pairs),
        classes=tuple(class_names),
        image_class=np.array([class_names.index(p.label) for p in pairs], np.int64),
        image_embeddings=np.asarray(emb, np.float32),
        pair_image=np.repeat(np.arange(len(pairs)), [len(p.captions) for p in pairs]),
        pair_caption=np.array([index[c] for p in pairs for c in p.captions], np.int64),
        model_name=identity[0],
        model_sha256=identity[1],
        probe=np.asarray(probe, np.float32),
    )
