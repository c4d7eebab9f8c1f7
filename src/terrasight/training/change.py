"""Train a change model on the AirChange training remainders plus synthetic pairs.

Split (AirChange protocol): the top-left 784x448 window of every pair is the
test set and is never read here. Of the rest, the strip right of the test
window (rows above its bottom edge) is the validation set, used to pick the
epoch and the threshold; the strip below the test window (full width) is the
training set. Crops are drawn from the training strips only, half of them
centred on a changed pixel.

Augmentation: rotations by 90 degrees and flips (both dates and mask), each
date's own light and colour jitter (:func:`~terrasight.training.synthetic.photometric`),
and a shift of up to ``max_shift`` pixels between the dates. Every epoch also
draws ``synthetic_per_epoch`` synthetic pairs (:mod:`terrasight.training.synthetic`).

Outputs in ``out``: ``<model>-v<version>.npz`` (the trained layers of the best
epoch, float16), ``<model>.json`` (a registry entry with the file's size,
sha256, the validated threshold and the training configuration) and
``train_log.jsonl`` (one line per epoch: loss, validation F1, seconds).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from terrasight.errors import DatasetLayoutError
from terrasight.tasks.change.learned import band_ranges, to_unit, unit_to_model
from terrasight.training.synthetic import (
    BACKGROUND_CLASSES,
    BUILT_CLASSES,
    Jitter,
    Pair,
    load_scenes,
    photometric,
    synthetic_pair,
)

log = logging.getLogger(__name__)


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
    dice_weight: float = 0.0
    """Weight of the soft Dice loss added to the binary cross-entropy."""
    ema: float = 0.98
    """Decay of an exponential moving average of the trained weights (0: none)."""
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


def load_airchange(data_dir: str | Path, limit: int | None = None) -> tuple[list[Region], ...]:
    """Training and validation strips of the AirChange pairs (never the test window).

    Each strip is scaled date by date to the model's [0, 1] units with its own percentiles.

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
    for pair in list_pairs(data_dir, "airchange")[:limit]:
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

    def epoch(self, rng: np.random.Generator) -> list[Pair]:
        """Real and synthetic pairs of one epoch, shuffled."""
        cfg = self.cfg
        pairs = [
            real_pair(self.train[rng.integers(len(self.train))], rng, cfg, self.jitter)
            for _ in range(cfg.real_per_epoch)
        ]
        for _ in range(cfg.synthetic_per_epoch):
            bg = self.backgrounds[rng.integers(len(self.backgrounds))]
            pair = synthetic_pair(
                bg, self.donors, rng, cfg.crop, max_shift=cfg.max_shift, jitter=self.jitter
            )
            pairs.append(geometric(pair, rng))
        return [pairs[i] for i in rng.permutation(len(pairs))]


def _stretch(scene: np.ndarray) -> np.ndarray:
    return to_unit(scene, *band_ranges(scene.reshape(3, -1).T))


def _batch(torch: Any, pairs: list[Pair]) -> tuple[Any, Any, Any]:
    cl = torch.channels_last
    b = torch.from_numpy(unit_to_model(np.stack([p[0] for p in pairs]))).contiguous(
        memory_format=cl
    )
    a = torch.from_numpy(unit_to_model(np.stack([p[1] for p in pairs]))).contiguous(
        memory_format=cl
    )
    m = torch.from_numpy(np.stack([p[2] for p in pairs]).astype(np.float32))[:, None]
    return b, a, m


def _loss(torch: Any, logits: Any, target: Any, dice_weight: float) -> Any:
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    if dice_weight <= 0:
        return bce
    prob = torch.sigmoid(logits)
    dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
    return bce + dice_weight * dice


def validate(model: Any, regions: list[Region], steps: int = 50) -> dict[str, float]:
    """Pooled F1 on the validation strips at 0.5 and at the best threshold (``1 / steps`` apart).

    Example:
        >>> validate(model, val)  # doctest: +SKIP
        {'f1_at_0.5': 0.41, 'f1': 0.45, 'threshold': 0.36}
    """
    import torch

    edges = np.linspace(0, 1, steps + 1)
    pos, neg = np.zeros(steps), np.zeros(steps)
    model.eval()
    with torch.inference_mode():
        for r in regions:
            b, a, _ = _batch(torch, [(r.before, r.after, r.mask)])
            prob = torch.sigmoid(model(b, a))[0, 0].numpy()
            pos += np.histogram(prob[r.mask > 0], edges)[0]
            neg += np.histogram(prob[r.mask == 0], edges)[0]
    tp = pos[::-1].cumsum()[::-1]  # pixels at or above each edge
    fp = neg[::-1].cumsum()[::-1]
    f1 = 2 * tp / np.maximum(2 * tp + fp + (pos.sum() - tp), 1)
    best = int(np.argmax(f1[1:])) + 1
    return {
        "f1_at_0.5": float(f1[steps // 2]),
        "f1": float(f1[best]),
        "threshold": round(float(edges[best]), 4),
    }


def _optimizer(torch: Any, model: Any, cfg: TrainConfig) -> Any:
    head = [p for n, p in model.named_parameters() if n.startswith("decoder.")]
    trained = model.trained_keys()
    body = [p for n, p in model.named_parameters() if n in trained and not n.startswith("decoder.")]
    for n, p in model.named_parameters():
        p.requires_grad_(n in trained)
    groups = [{"params": head, "lr": cfg.lr}, {"params": body, "lr": cfg.backbone_lr}]
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def train_change(
    data_dir: str | Path,
    out_dir: str | Path,
    cfg: TrainConfig = TrainConfig(),
    aid_dir: str | Path | None = None,
    layout: str = "airchange",
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train a change model; write its weights, registry entry and log into ``out_dir``.

    Args:
        data_dir: the dataset folder.
        out_dir: folder for the weights, the registry entry and the log (created).
        cfg: the training configuration.
        aid_dir: AID scenes folder (``<Class>/*.jpg``), needed for synthetic pairs.
        layout: dataset layout (``"airchange"``).
        on_epoch: called with each epoch's log record.

    Returns:
        The registry entry written (with a ``training`` section: configuration,
        best epoch, validation scores, seconds).

    Example:
        >>> entry = train_change("data/airchange", "runs/v1", TrainConfig(epochs=1),
        ...                      aid_dir="data/aid")  # doctest: +SKIP
    """
    from terrasight.models import get_config, require_torch
    from terrasight.models.registry import build_model

    torch = require_torch()
    if layout != "airchange":
        raise DatasetLayoutError(f"training supports the 'airchange' layout only, not {layout!r}")
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, val = load_airchange(data_dir, cfg.limit_pairs)
    source = PairSource(train, cfg, aid_dir)
    config = get_config(cfg.model)
    config = replace(config, params={**config.params, **cfg.model_params})
    model = build_model(config, pretrained=False).to(memory_format=torch.channels_last)
    opt = _optimizer(torch, model, cfg)
    steps = cfg.epochs * -(-(cfg.real_per_epoch + cfg.synthetic_per_epoch) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[cfg.lr, cfg.backbone_lr], total_steps=steps, pct_start=0.1
    )
    ema = _Ema(model, cfg.ema)
    best: dict[str, Any] = {"f1": -1.0}
    start = time.perf_counter()
    with open(out / "train_log.jsonl", "w", encoding="utf-8") as logf:
        for epoch in range(1, cfg.epochs + 1):
            loss = _epoch(
                torch, model, opt, sched, ema, source.epoch(rng), cfg.batch_size, cfg.dice_weight
            )
            with ema.applied(model):
                scores = validate(model, val)
                state = {k: v.detach().clone() for k, v in model.trained_state().items()}
            rec = {
                "epoch": epoch,
                "loss": loss,
                **{f"val_{k}": v for k, v in scores.items()},
                "seconds": round(time.perf_counter() - start, 1),
            }
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log.info("epoch %s", rec)
            if on_epoch is not None:
                on_epoch(rec)
            if scores["f1"] > best["f1"]:
                best = {**scores, "epoch": epoch, "state": state}
    return _write_entry(config, cfg, best, out, time.perf_counter() - start)


class _Ema:
    """Exponential moving average of the trained weights (a no-op when ``decay`` is 0)."""

    def __init__(self, model: Any, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.trained_state().items()}

    def update(self, model: Any) -> None:
        if self.decay <= 0:
            return
        for k, v in model.trained_state().items():
            self.state[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)

    @contextlib.contextmanager
    def applied(self, model: Any) -> Iterator[None]:
        """Temporarily load the averaged weights into ``model``."""
        if self.decay <= 0:
            yield
            return
        saved = {k: v.detach().clone() for k, v in model.trained_state().items()}
        model.load_state_dict(self.state, strict=False)
        try:
            yield
        finally:
            model.load_state_dict(saved, strict=False)


def _epoch(
    torch: Any,
    model: Any,
    opt: Any,
    sched: Any,
    ema: _Ema,
    pairs: list[Pair],
    bs: int,
    dice_weight: float,
) -> float:
    model.train()
    total, n = 0.0, 0
    for i in range(0, len(pairs), bs):
        b, a, m = _batch(torch, pairs[i : i + bs])
        loss = _loss(torch, model(b, a), m, dice_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ema.update(model)
        total, n = total + float(loss.detach()) * len(m), n + len(m)
    return total / max(n, 1)


def _write_entry(
    config: Any, cfg: TrainConfig, best: dict[str, Any], out: Path, seconds: float
) -> dict[str, Any]:
    from terrasight.models.weights import save_npz, shipped_weights_entry

    name = f"{cfg.model}-v{cfg.version}.npz"
    path = save_npz(best["state"], out / name)
    entry = {
        "name": config.name,
        "kind": config.kind,
        "arch": config.arch,
        "description": config.description,
        "backbone": config.backbone,
        "params": config.params,
        "threshold": round(best["threshold"], 4),
        "weights": shipped_weights_entry(path, cfg.version),
        "training": {
            "config": asdict(cfg),
            "best_epoch": best["epoch"],
            "seconds": round(seconds, 1),
            "validation": {k: best[k] for k in ("f1", "f1_at_0.5", "threshold")},
            "split": "AirChange: test = top-left 784x448 (never read); validation = the strip "
            "right of it (rows < 448, cols >= 784); training = rows >= 448",
        },
    }
    (out / f"{cfg.model}.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    return entry
