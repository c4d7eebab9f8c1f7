"""Training data of the change model: AirChange strips, augmented crops, synthetic pairs.

See :mod:`terrasight.training.change` for the split; :class:`PairSource` draws
each epoch's mix of real crops and synthetic pairs (:mod:`~terrasight.training.synthetic`
and, with ``rich_synthetic``, :mod:`~terrasight.training.scenes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from terrasight.errors import DatasetLayoutError
from terrasight.tasks.change.methods.learned import band_ranges, to_unit
from terrasight.training.synthetic import (
    BACKGROUND_CLASSES,
    BUILT_CLASSES,
    Jitter,
    Pair,
    load_scenes,
    photometric,
    synthetic_pair,
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (written beside the weights)."""

    model: str = "siamese-effnet-lite0"
    version: str = "1"
    epochs: int = 20
    seed: int = 0
    crop: int = 160
    batch_size: int = 8
    real_per_epoch: int = 640
    synthetic_per_epoch: int = 320
    lr: float = 1e-3
    backbone_lr: float = 2e-4
    weight_decay: float = 1e-4
    change_focus: float = 0.5
    max_shift: int = 2
    aid_per_class: int = 60
    threads: int = 2
    limit_pairs: int | None = None
    sites: tuple[str, ...] | None = None
    """AirChange sites to train and validate on (``("Szada",)``); None: every pair."""
    dice_weight: float = 0.0
    """Weight of the soft Dice loss added to the binary cross-entropy."""
    ema: float = 0.98
    """Decay of an exponential moving average of the trained weights (0: none)."""
    init: str | None = None
    """Trained-layer weights (``.npz`` written by a run, or a shipped file) to start from."""
    rich_synthetic: float = 0.0
    """Share of synthetic pairs drawn by :func:`~terrasight.training.scenes.rich_pair`."""
    model_params: dict[str, Any] = field(default_factory=dict)
    """Overrides of the registry entry's ``params`` (``train_from_block``, ``fusion``...)."""
    jitter: dict[str, float] = field(default_factory=lambda: asdict(Jitter()))


@dataclass
class Region:
    """One date pair's strip (training or validation) in [0, 1] units, with its mask."""

    name: str
    before: np.ndarray
    after: np.ndarray
    mask: np.ndarray

    @property
    def changed(self) -> np.ndarray:
        """``(n, 2)`` row and column of every changed pixel."""
        return np.argwhere(self.mask > 0)


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32).transpose(2, 0, 1)


def _region(name: str, before: np.ndarray, after: np.ndarray, truth: np.ndarray) -> Region:
    def unit(img: np.ndarray) -> np.ndarray:
        return to_unit(img, *band_ranges(img.reshape(3, -1).T))

    return Region(name, unit(before), unit(after), (truth > 0).astype(np.uint8))


def load_airchange(
    data_dir: str | Path, limit: int | None = None, sites: tuple[str, ...] | None = None
) -> tuple[list[Region], ...]:
    """Training and validation strips of the AirChange pairs (never the test window).

    Each strip is scaled date by date to the model's [0, 1] units with its own percentiles.
    ``sites`` keeps only the pairs of those sites (``"Szada"`` keeps ``Szada/1`` ...).

    Raises:
        DatasetLayoutError: the folder is not an AirChange folder.

    Example:
        >>> train, val = load_airchange("data/airchange")  # doctest: +SKIP
        >>> len(train), train[0].before.shape  # doctest: +SKIP
        (13, (3, 276, 1048))
    """
    from terrasight.eval.datasets import AIRCHANGE_TEST_WINDOW, list_pairs

    c0, r0, w, h = AIRCHANGE_TEST_WINDOW
    if (c0, r0) != (0, 0):
        raise DatasetLayoutError("the AirChange split expects the test window at the top left")
    train, val = [], []
    pairs = list_pairs(data_dir, "airchange")
    if sites is not None:
        pairs = [p for p in pairs if p.name.split("/")[0] in sites]
        if not pairs:
            raise DatasetLayoutError(f"no AirChange pairs of the sites {list(sites)} in {data_dir}")
    for pair in pairs[:limit]:
        b, a = _read_rgb(pair.before), _read_rgb(pair.after)
        with Image.open(pair.truth) as im:
            t = np.asarray(im.convert("L"))
        if t.shape[0] <= h or t.shape[1] <= w:
            raise DatasetLayoutError(f"{pair.truth} is too small for the AirChange split")
        train.append(_region(pair.name, b[:, h:], a[:, h:], t[h:]))
        val.append(_region(pair.name, b[:, :h, w:], a[:, :h, w:], t[:h, w:]))
    return train, val


def geometric(pair: Pair, rng: np.random.Generator) -> Pair:
    """The same random rotation by 90 degrees and flip for both dates and the mask.

    Example:
        >>> p = (np.zeros((3, 4, 4)), np.zeros((3, 4, 4)), np.eye(4, dtype=np.uint8))
        >>> [x.shape for x in geometric(p, np.random.default_rng(0))]
        [(3, 4, 4), (3, 4, 4), (4, 4)]
    """
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    out = []
    for x in pair:
        y = np.rot90(x, k, axes=(-2, -1))
        out.append(np.ascontiguousarray(y[..., ::-1] if flip else y))
    return out[0], out[1], out[2]


def real_pair(region: Region, rng: np.random.Generator, cfg: TrainConfig, jitter: Jitter) -> Pair:
    """A random augmented crop of a training strip (half the time centred on change)."""
    s, (height, width) = cfg.crop, region.mask.shape
    changed = region.changed
    if len(changed) and rng.random() < cfg.change_focus:
        cy, cx = changed[rng.integers(len(changed))]
        y, x = cy - rng.integers(s), cx - rng.integers(s)
    else:
        y, x = rng.integers(height - s + 1), rng.integers(width - s + 1)
    y, x = int(np.clip(y, 0, height - s)), int(np.clip(x, 0, width - s))
    dy, dx = (int(v) for v in rng.integers(-cfg.max_shift, cfg.max_shift + 1, size=2))
    ya, xa = int(np.clip(y + dy, 0, height - s)), int(np.clip(x + dx, 0, width - s))
    b = photometric(region.before[:, y : y + s, x : x + s], rng, jitter)
    a = photometric(region.after[:, ya : ya + s, xa : xa + s], rng, jitter)
    return geometric((b, a, region.mask[y : y + s, x : x + s]), rng)


class PairSource:
    """Draws an epoch's mix of real and synthetic training pairs, reproducibly."""

    def __init__(self, train: list[Region], cfg: TrainConfig, aid_dir: str | Path | None) -> None:
        self.train, self.cfg, self.jitter = train, cfg, Jitter(**cfg.jitter)
        self.donors: list[np.ndarray] = []
        self.backgrounds: list[np.ndarray] = [r.before for r in train]
        if cfg.synthetic_per_epoch > 0:
            if aid_dir is None:
                raise ValueError("synthetic pairs need the AID scenes folder (aid_dir)")
            stretch = [
                _stretch(x)
                for x in load_scenes(aid_dir, BUILT_CLASSES, cfg.aid_per_class, cfg.seed)
            ]
            self.donors = stretch
            self.backgrounds += [
                _stretch(x)
                for x in load_scenes(aid_dir, BACKGROUND_CLASSES, cfg.aid_per_class, cfg.seed + 1)
            ]
            if cfg.rich_synthetic > 0:
                from terrasight.training.scenes import ObjectLibrary

                self.library = ObjectLibrary.from_aid(aid_dir, cfg.aid_per_class, cfg.seed + 2)

    def epoch(self, rng: np.random.Generator) -> list[Pair]:
        """Real and synthetic pairs of one epoch, shuffled."""
        cfg = self.cfg
        pairs = [
            real_pair(self.train[rng.integers(len(self.train))], rng, cfg, self.jitter)
            for _ in range(cfg.real_per_epoch)
        ]
        for _ in range(cfg.synthetic_per_epoch):
            bg = self.backgrounds[rng.integers(len(self.backgrounds))]
            if cfg.rich_synthetic > 0 and rng.random() < cfg.rich_synthetic:
                from terrasight.training.scenes import rich_pair

                pair = rich_pair(bg, self.library, rng, cfg.crop, jitter=self.jitter)
            else:
                pair = synthetic_pair(
                    bg, self.donors, rng, cfg.crop, max_shift=cfg.max_shift, jitter=self.jitter
                )
            pairs.append(geometric(pair, rng))
        return [pairs[i] for i in rng.permutation(len(pairs))]


def _stretch(scene: np.ndarray) -> np.ndarray:
    return to_unit(scene, *band_ranges(scene.reshape(3, -1).T))
