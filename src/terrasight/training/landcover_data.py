"""The Dubai land-cover tiles: reading them, the split by tile, augmented crops.

Layout: ``<data>/landcover/dubai/tile<N>/images/<name>.jpg`` with
``masks/<name>.png`` beside, masks as RGB colours (building #3C1098, road
#6EC1E4, water #E2A929, vegetation #FEDD3A, land (unpaved) #8429F6,
unlabelled #9B9B9B). Each mask pixel takes the class of the nearest of those
six colours (a few JPEG-like pixels are not exact); unlabelled pixels get
:data:`IGNORE` and count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from terrasight.errors import DatasetLayoutError

IGNORE = 255
"""Label of unlabelled pixels (no loss, no score)."""
MASK_COLOURS = np.array(
    [
        (0x3C, 0x10, 0x98),  # building -> 0
        (0x6E, 0xC1, 0xE4),  # road -> 1
        (0xE2, 0xA9, 0x29),  # water -> 2
        (0xFE, 0xDD, 0x3A),  # vegetation -> 3
        (0x84, 0x29, 0xF6),  # land (unpaved) -> 4 (bare)
        (0x9B, 0x9B, 0x9B),  # unlabelled -> IGNORE
    ],
    dtype=np.int32,
)
"""Mask colour of each label, in :data:`~terrasight.tasks.landcover.classes.CLASSES` order."""
TILES = (1, 3, 4, 6, 7, 8)
"""The tiles in ``data/landcover/dubai`` (two more are held back elsewhere)."""
SPLIT: dict[str, tuple[int, ...]] = {"train": (3, 6, 7, 8), "val": (1,), "test": (4,)}
"""Train on four tiles, choose epochs and the unsure threshold on tile 1, test on tile 4."""


@dataclass
class Sample:
    """One image ``(h, w, 3)`` uint8 and its labels ``(h, w)`` uint8 (0-4, :data:`IGNORE`)."""

    name: str
    image: np.ndarray
    labels: np.ndarray


def mask_to_labels(mask: np.ndarray) -> np.ndarray:
    """Labels of an RGB mask ``(h, w, 3)``: the nearest mask colour's class.

    Example:
        >>> mask_to_labels(np.array([[[0x3C, 0x10, 0x99], [0x9B, 0x9B, 0x9B]]], np.uint8))
        array([[  0, 255]], dtype=uint8)
    """
    flat = mask.reshape(-1, 3).astype(np.int32)
    best = np.zeros(len(flat), np.uint8)
    dist = np.full(len(flat), np.iinfo(np.int32).max)
    for k, colour in enumerate(MASK_COLOURS):
        d = ((flat - colour) ** 2).sum(1)
        closer = d < dist
        best[closer], dist[closer] = k, d[closer]
    best[best == len(MASK_COLOURS) - 1] = IGNORE
    return best.reshape(mask.shape[:2])


def dubai_root(data: str | Path) -> Path:
    """``<data>/landcover/dubai`` (``data`` may also be that folder itself).

    Raises:
        DatasetLayoutError: no ``tile*/images`` folder there.
    """
    data = Path(data)
    for root in (data / "landcover" / "dubai", data / "dubai", data):
        if any(root.glob("tile*/images")):
            return root
    raise DatasetLayoutError(
        f"no land-cover tiles under {data}: expected {data}/landcover/dubai/tile<N>/images/*.jpg "
        "with masks/*.png beside; pass the shared data folder with --data"
    )


def load_tiles(data: str | Path, tiles: tuple[int, ...]) -> list[Sample]:
    """Every image and mask of ``tiles``.

    Raises:
        DatasetLayoutError: a tile or an image's mask is missing.

    Example:
        >>> len(load_tiles("../shared/data", (1,)))  # doctest: +SKIP
        9
    """
    root = dubai_root(data)
    samples = []
    for tile in tiles:
        images = sorted((root / f"tile{tile}" / "images").glob("*.jpg"))
        if not images:
            raise DatasetLayoutError(f"no images in {root / f'tile{tile}' / 'images'}")
        for path in images:
            mask_path = path.parent.parent / "masks" / (path.stem + ".png")
            if not mask_path.exists():
                raise DatasetLayoutError(f"{path} has no mask {mask_path}")
            with Image.open(path) as im, Image.open(mask_path) as mk:
                image = np.asarray(im.convert("RGB"))
                labels = mask_to_labels(np.asarray(mk.convert("RGB")))
            if labels.shape != image.shape[:2]:
                raise DatasetLayoutError(f"{mask_path} is {labels.shape}, {path} {image.shape[:2]}")
            samples.append(Sample(f"tile{tile}/{path.stem}", image, labels))
    return samples


def class_frequencies(samples: list[Sample], n_classes: int = 5) -> np.ndarray:
    """Share of each class among the labelled pixels of ``samples``."""
    counts = np.zeros(n_classes)
    for s in samples:
        counts += np.bincount(s.labels[s.labels != IGNORE].ravel(), minlength=n_classes)[:n_classes]
    return counts / max(counts.sum(), 1)
