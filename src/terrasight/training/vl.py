"""Train the locked-text vision-language projections ("LiT") on AID images and RSICD captions.

Both towers are frozen: their features are computed once and cached as
``.npz`` (:mod:`terrasight.training.vl_data`). Only the image projection
(linear or MLP), the text projection and the temperature of a symmetric
InfoNCE loss are trained, one random caption per image per step. Class labels
are never used for training. A seeded hash of the file name keeps a
validation split of images that training never sees; the epoch with the best
validation mean recall is kept.

Outputs in ``out``: ``<model>-v<version>.npz`` (float16), ``<model>.json`` (a
registry entry with size, sha256, configuration and validation scores),
``train_config.json`` and ``train_log.jsonl`` (one line per epoch).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import DatasetLayoutError
from terrasight.eval.retrieval import retrieval_recalls
from terrasight.training.vl_data import (
    Pair,
    image_features,
    load_pairs,
    split_pairs,
    text_features,
)

TEMPLATES = ("an aerial image of a {}.", "a satellite image of a {}.", "an aerial photo of {}.")


@dataclass(frozen=True)
class VLTrainConfig:
    """Everything that determines a training run (written beside the weights)."""

    model: str = "terrasight-vl"
    version: str = "1"
    variant: str = "linear"
    epochs: int = 20
    seed: int = 0
    dim: int = 128
    hidden: int = 256
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.1
    val_fraction: float = 0.1
    backbone: str = "efficientnet-lite0-head"
    image_size: int = 224
    threads: int = 2
    limit: int | None = None
    """Use only this many images (spread over the sorted list; for tests)."""


@dataclass
class Features:
    """Cached frozen features of one split."""

    pairs: list[Pair]
    images: np.ndarray  # (n, image_dim)
    texts: np.ndarray  # (n, captions, text_dim)


def load_features(pairs: list[Pair], cache_dir: Path, cfg: VLTrainConfig) -> Features:
    """Image and caption features of ``pairs`` (computed once, then read from ``cache_dir``).

    Example:
        >>> feats = load_features(pairs, Path("cache"), VLTrainConfig())  # doctest: +SKIP
    """
    imgs = image_features(pairs, cache_dir, cfg.backbone, cfg.image_size, cfg.threads)
    n_caps = min(len(p.captions) for p in pairs)
    caps = [c for p in pairs for c in p.captions[:n_caps]]
    texts = text_features(caps, cache_dir).reshape(len(pairs), n_caps, -1)
    return Features(pairs, imgs, texts)


def evaluate(heads: Any, feats: Features) -> dict[str, float]:
    """Retrieval recalls (both ways, percent) and ``mR`` of trained heads on cached features.

    Example:
        >>> evaluate(heads, val)["mR"]  # doctest: +SKIP
    """
    import torch

    n, c, d = feats.texts.shape
    with torch.no_grad():
        img = heads.image(torch.from_numpy(feats.images)).numpy()
        txt = heads.text(torch.from_numpy(feats.texts.reshape(n * c, d))).numpy()
    return retrieval_recalls(img, txt, np.repeat(np.arange(n), c))


def _epoch(
    torch: Any, heads: Any, opt: Any, train: Features, rng: np.random.Generator, bs: int
) -> float:
    heads.train()
    order = rng.permutation(len(train.pairs))
    caption = rng.integers(0, train.texts.shape[1], size=len(order))
    losses = []
    for i in range(0, len(order), bs):
        idx = order[i : i + bs]
        img = heads.image(torch.from_numpy(train.images[idx]))
        txt = heads.text(torch.from_numpy(train.texts[idx, caption[i : i + bs]]))
        logits = heads.logit_scale.exp().clamp(max=100) * img @ txt.T
        target = torch.arange(len(idx))
        loss = (
            torch.nn.functional.cross_entropy(logits, target)
            + torch.nn.functional.cross_entropy(logits.T, target)
        ) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    heads.eval()
    return float(np.mean(losses))


def _spread(pairs: list[Pair], limit: int | None) -> list[Pair]:
    if limit is None or limit >= len(pairs):
        return pairs
    return [pairs[int(i)] for i in np.linspace(0, len(pairs) - 1, limit).round()]


def model_params(cfg: VLTrainConfig, image_dim: int, text_dim: int) -> dict[str, Any]:
    """The registry ``params`` of a trained model.

    Example:
        >>> model_params(VLTrainConfig(), 1280, 384)["variant"]
        'linear'
    """
    return {
        "image_dim": image_dim,
        "text_dim": text_dim,
        "dim": cfg.dim,
        "variant": cfg.variant,
        "hidden": cfg.hidden,
        "image_size": cfg.image_size,
        "templates": list(TEMPLATES),
    }


def train_vl(
    aid_dir: str | Path,
    rsicd_dir: str | Path,
    out_dir: str | Path,
    cfg: VLTrainConfig = VLTrainConfig(),
    cache_dir: str | Path | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train the projections; write weights, registry entry, config and log into ``out_dir``.

    Args:
        aid_dir: AID folder (``<Class>/<name>.jpg``).
        rsicd_dir: RSICD folder with ``train_filename.txt`` and ``train_caps.txt``.
        out_dir: output folder (created).
        cfg: the run's configuration.
        cache_dir: feature cache folder (default ``out_dir/cache``); reuse it across runs.
        on_epoch: called with each epoch's log record.

    Returns:
        The registry entry written to ``out_dir/<model>.json``.

    Raises:
        DatasetLayoutError: no captioned images, or an empty training or validation split.

    Example:
        >>> entry = train_vl("data/aid", "data/rsicd", "runs/vl")  # doctest: +SKIP
        >>> entry["training"]["validation"]["mR"]  # doctest: +SKIP
    """
    import torch

    from terrasight.models.vl_net import heads_from_params

    start = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    train_pairs, val_pairs = split_pairs(
        _spread(load_pairs(aid_dir, rsicd_dir), cfg.limit), cfg.val_fraction
    )
    if not train_pairs or not val_pairs:
        raise DatasetLayoutError(
            f"{len(train_pairs)} training and {len(val_pairs)} validation images: need both"
        )
    train, val = load_features(train_pairs, cache, cfg), load_features(val_pairs, cache, cfg)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    params = model_params(cfg, train.images.shape[1], train.texts.shape[2])
    heads = heads_from_params(params)
    opt = torch.optim.AdamW(heads.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    rng = np.random.default_rng(cfg.seed)
    best: dict[str, Any] = {"mR": -1.0}
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    with open(out / "train_log.jsonl", "w", encoding="utf-8") as logf:
        for epoch in range(1, cfg.epochs + 1):
            loss = _epoch(torch, heads, opt, train, rng, cfg.batch_size)
            sched.step()
            scores = evaluate(heads, val)
            rec = {
                "epoch": epoch,
                "loss": round(loss, 5),
                **{k: round(v, 3) for k, v in scores.items()},
            }
            logf.write(json.dumps(rec) + "\n")
            if on_epoch is not None:
                on_epoch(rec)
            if scores["mR"] > best["mR"]:
                state = {k: v.detach().clone() for k, v in heads.state_dict().items()}
                best = {"mR": scores["mR"], "epoch": epoch, "scores": scores, "state": state}
    splits = {"train_images": len(train_pairs), "val_images": len(val_pairs)}
    return _write_entry(out, cfg, params, best, splits, round(time.time() - start, 1))


def _write_entry(
    out: Path,
    cfg: VLTrainConfig,
    params: dict[str, Any],
    best: dict[str, Any],
    splits: dict[str, int],
    seconds: float,
) -> dict[str, Any]:
    from terrasight.models.weights import save_npz, shipped_weights_entry

    name = f"{cfg.model}-v{cfg.version}.npz"
    path = save_npz(best["state"], out / name)
    entry = {
        "name": cfg.model,
        "kind": "vl",
        "arch": "lit-projection",
        "description": (
            f"Locked-text image-text embedding: frozen EfficientNet-Lite0 (pooled, {cfg.image_size} px) "
            f"+ {cfg.variant} projection, frozen all-MiniLM-L6-v2 + linear projection, AID/RSICD"
        ),
        "backbone": cfg.backbone,
        "params": params,
        "weights": shipped_weights_entry(path, cfg.version),
        "training": {
            "config": asdict(cfg),
            "best_epoch": best["epoch"],
            "validation": {k: round(v, 3) for k, v in best["scores"].items()},
            **splits,
            "seconds": seconds,
        },
    }
    (out / f"{cfg.model}.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    return entry
