"""Train the ``learned-ms`` multispectral change model on the OSCD cities.

The model is a small multilayer perceptron on per-pixel features
(:mod:`terrasight.tasks.change.methods.ms_features`), trained with PyTorch and shipped
as a NumPy ``.npz`` (run in NumPy by :mod:`terrasight.tasks.change.methods.learned_ms`).

Augmentation (per city and copy, seeded): a gain and an offset per band and
date, a misregistration of the after date by up to ``shift`` pixels, and a 90
degree rotation or flip. Each copy contributes every changed pixel and a random
subset of unchanged ones. :func:`leave_one_out` trains on all cities but one,
in turn, and scores each held-out city with a threshold chosen on the training
cities only; :func:`train_change_ms` trains on all of them and writes the weights.

Example:
    >>> report = train_change_ms("../shared/data", "runs/change-ms")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.change.methods.learned_ms import MsNetwork, save_weights
from terrasight.tasks.change.methods.ms_features import band_stats, pixel_features
from terrasight.training.oscd import TEN_M, OscdCity, find_root, load_cities

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MsTrainConfig:
    """Settings of a training run (all seeded).

    Attributes:
        bands: Sentinel-2 band names, in the model's order (blue, green, red, nir first).
        copies: augmented copies of each training city.
        negatives: unchanged pixels sampled per copy.
        hidden: units of the two hidden layers.
        epochs, batch, lr, weight_decay: the optimiser's settings.
        shift: largest misregistration of the after date, in pixels.
        gain: largest relative gain change per band and date.
        smooth: side of the mean filter applied to the probability (1: none).
        seed: seeds NumPy and PyTorch.
    """

    bands: tuple[str, ...] = TEN_M
    copies: int = 2
    negatives: int = 30_000
    hidden: int = 32
    epochs: int = 8
    batch: int = 4096
    lr: float = 3e-3
    weight_decay: float = 1e-4
    shift: float = 0.7
    gain: float = 0.15
    smooth: int = 3
    seed: int = 0


def augment(city: OscdCity, rng: np.random.Generator, cfg: MsTrainConfig) -> OscdCity:
    """A copy of ``city`` with gain, offset, misregistration and a rotation or flip."""
    from scipy import ndimage

    nb = len(city.bands)
    dates = []
    for image in (city.before, city.after):
        gain = 1.0 + rng.uniform(-cfg.gain, cfg.gain, (nb, 1, 1))
        offset = rng.uniform(-0.01, 0.01, (nb, 1, 1))
        dates.append((image * gain + offset).astype(np.float32))
    dy, dx = rng.uniform(-cfg.shift, cfg.shift, 2)
    dates[1] = ndimage.shift(dates[1], (0, dy, dx), order=1, mode="nearest")
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    out = []
    for x in (*dates, city.truth[None]):
        x = np.rot90(x, k, axes=(1, 2))
        out.append(np.ascontiguousarray(x[:, :, ::-1] if flip else x))
    return OscdCity(city.name, city.bands, out[0], out[1], out[2][0])


def city_features(city: OscdCity) -> np.ndarray:
    """Features of every pixel of a city, ``(h, w, n)``, with stats from the whole city."""
    return pixel_features(city.before, city.after, band_stats(city.before), band_stats(city.after))


def city_pixels(city: OscdCity, cfg: MsTrainConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampled features and labels of ``cfg.copies`` copies of one city (the first as it is)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for copy in range(cfg.copies):
        c = augment(city, rng, cfg) if copy else city
        feats = city_features(c)
        feats = feats.reshape(-1, feats.shape[-1])
        truth = c.truth.reshape(-1)
        pos = np.flatnonzero(truth)
        neg = np.flatnonzero(~truth)
        neg = rng.choice(neg, min(cfg.negatives, neg.size), replace=False)
        idx = np.concatenate([pos, neg])
        xs.append(feats[idx])
        ys.append(truth[idx])
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32)


def _city_seed(cfg: MsTrainConfig, name: str) -> int:
    return cfg.seed * 1000 + sum(map(ord, name))


def fit_network(x: np.ndarray, y: np.ndarray, cfg: MsTrainConfig) -> MsNetwork:
    """Train the perceptron on ``(n, f)`` features; the changed pixels weigh as much as the rest."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is as fast, and it shares the machine
    try:
        return _fit(x, y, cfg, torch)
    finally:
        torch.set_num_threads(threads)


def _fit(x: np.ndarray, y: np.ndarray, cfg: MsTrainConfig, torch: Any) -> MsNetwork:
    torch.manual_seed(cfg.seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], cfg.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(cfg.hidden, cfg.hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(cfg.hidden, 1),
    )
    pos_weight = torch.tensor((y.size - y.sum()) / max(y.sum(), 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * -(-len(yt) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(yt), generator=gen)
        for i in range(0, len(yt), cfg.batch):
            idx = order[i : i + cfg.batch]
            loss = loss_fn(net(xt[idx])[:, 0], yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    weights = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in layers]
    return MsNetwork(mean.astype(np.float32), std.astype(np.float32), weights, 0.5, cfg.smooth)


def city_probability(net: MsNetwork, city: OscdCity) -> np.ndarray:
    """The network's change probability over a whole city, ``(h, w)``."""
    return net.probability_of_features(city_features(city))


def best_threshold(probs: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """The threshold (0.05 to 0.95 in steps of 0.01) with the best F1 pooled over ``probs``.

    One histogram of the changed and one of the unchanged pixels' probabilities.

    Example:
        >>> best_threshold([np.array([0.1, 0.2, 0.8, 0.9])], [np.array([0, 0, 1, 1], bool)])
        0.21
    """
    edges = np.round(np.arange(0.05, 0.96, 0.01), 2)
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    pos = np.zeros(len(bins) - 1, np.int64)
    neg = np.zeros(len(bins) - 1, np.int64)
    for p, t in zip(probs, truths, strict=True):
        pos += np.histogram(p[t], bins)[0]
        neg += np.histogram(p[~t], bins)[0]
    tp = np.cumsum(pos[::-1])[::-1][1:]  # pixels at or above each edge
    fp = np.cumsum(neg[::-1])[::-1][1:]
    fn = pos.sum() - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return float(edges[int(np.argmax(f1))])


def scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """F1, precision, recall, changed share and truth share of a boolean prediction.

    Example:
        >>> scores(np.array([True, False]), np.array([True, True]))["recall"]
        0.5
    """
    tp = float(np.sum(pred & truth))
    fp = float(np.sum(pred & ~truth))
    fn = float(np.sum(~pred & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "changed_share": float(pred.mean()),
        "truth_share": float(truth.mean()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


@dataclass
class _Prepared:
    """One city's sampled training pixels and the features of all its pixels."""

    city: OscdCity
    x: np.ndarray
    y: np.ndarray
    features: np.ndarray


def _prepare(cities: Sequence[OscdCity], cfg: MsTrainConfig) -> list[_Prepared]:
    out = []
    for c in cities:
        x, y = city_pixels(c, cfg, _city_seed(cfg, c.name))
        out.append(_Prepared(c, x, y, city_features(c)))
    return out


def _train_prepared(prepared: Sequence[_Prepared], cfg: MsTrainConfig) -> MsNetwork:
    """Train on prepared cities; the threshold is the best pooled F1 on them."""
    x = np.concatenate([p.x for p in prepared])
    y = np.concatenate([p.y for p in prepared])
    net = fit_network(x, y, cfg)
    # Every other row and column: a quarter of the pixels is plenty for one number.
    probs = [net.probability_of_features(p.features[::2, ::2]) for p in prepared]
    truths = [p.city.truth[::2, ::2] for p in prepared]
    return net.with_threshold(best_threshold(probs, truths))


def train_on(cities: Sequence[OscdCity], cfg: MsTrainConfig) -> MsNetwork:
    """Train on ``cities`` and set the threshold with the best pooled F1 on them."""
    return _train_prepared(_prepare(cities, cfg), cfg)


def leave_one_out(
    data: str | Path, cfg: MsTrainConfig, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Train without each city in turn and score it: per-city and pooled figures.

    The threshold of each fold is chosen on its training cities only. Also
    returns each held-out city's probability raster under ``"probabilities"``
    and each fold's network (keyed by the held-out city) under ``"networks"``.
    """
    prepared = _prepare(list(load_cities(find_root(data), cfg.bands, names)), cfg)
    rows, preds, truths, probs, nets = {}, [], [], {}, {}
    for held in prepared:
        net = _train_prepared([p for p in prepared if p is not held], cfg)
        prob = net.probability_of_features(held.features)
        pred = prob >= net.threshold
        name = held.city.name
        rows[name] = {
            **scores(pred, held.city.truth),
            "threshold": net.threshold,
            "max_probability": float(prob.max()),
        }
        preds.append(pred)
        truths.append(held.city.truth)
        probs[name] = prob
        nets[name] = net
        log.info("held out %s: F1 %.3f", name, rows[name]["f1"])
    pooled = scores(
        np.concatenate([p.ravel() for p in preds]), np.concatenate([t.ravel() for t in truths])
    )
    return {
        "cities": rows,
        "pooled": pooled,
        "config": asdict(cfg),
        "probabilities": probs,
        "networks": nets,
    }


def train_change_ms(
    data: str | Path,
    out: str | Path,
    cfg: MsTrainConfig | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train on every OSCD city under ``data`` (or only ``names``) and write
    ``out/learned-ms-<n>band.npz`` and ``out/train_log.json``.

    Returns the log: the config, the threshold and the files written.
    """
    cfg = cfg or MsTrainConfig()
    cities = list(load_cities(find_root(data), cfg.bands, names))
    net = train_on(cities, cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / weights_name(cfg.bands)
    save_weights(path, net, cfg.bands, {"cities": [c.name for c in cities], **asdict(cfg)})
    report = {
        "weights": str(path),
        "threshold": net.threshold,
        "cities": [c.name for c in cities],
        "config": asdict(cfg),
    }
    (out / "train_log.json").write_text(json.dumps(report, indent=2))
    return report


def weights_name(bands: Sequence[str]) -> str:
    """The file name of a model for ``bands``: ``learned-ms-4band.npz`` or ``learned-ms-6band.npz``."""
    return f"learned-ms-{len(bands)}band.npz"
