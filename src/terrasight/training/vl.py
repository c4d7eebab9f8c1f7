"""Train the locked-text vision-language projections ("LiT") on AID images and RSICD captions.

Variants ``linear`` and ``mlp``: both towers are frozen; their features are
computed once and cached as ``.npz`` (:mod:`terrasight.training.vl_data`). Only
the image projection (linear or MLP), the text projection and the temperature of
a symmetric InfoNCE loss are trained, one random caption per image per epoch.

Variant ``tune-last`` also fine-tunes the end of the image backbone: the
MBConv blocks from ``tune_from_block`` on (default: the last one) and the 1x1
head convolution, with a lower learning rate and frozen batch-norm statistics.
Everything before stays frozen, so the activations entering the tuned part are
cached once (float16, ``7 x 7 x 192`` per image at 224 px), with a horizontally
flipped copy of each training image drawn at random as augmentation.

Class labels are never used for training. A seeded hash of the file name keeps
a validation split of images that training never sees; the epoch with the best
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
    image_maps,
    load_pairs,
    split_pairs,
    text_features,
)

TEMPLATES = ("an aerial image of a {}.", "a satellite image of a {}.", "an aerial photo of {}.")
VARIANTS = ("linear", "mlp", "tune-last")
EVAL_BATCH = 256


@dataclass(frozen=True)
class VLTrainConfig:
    """Everything that determines a training run (written beside the weights)."""

    model: str = "terrasight-vl"
    version: str = "1"
    variant: str = "linear"
    """One of :data:`VARIANTS`: ``linear`` or ``mlp`` image projection on frozen features,
    or ``tune-last`` (linear projection, last backbone block(s) and head fine-tuned)."""
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
    tune_from_block: int = 15
    """``tune-last``: the first fine-tuned MBConv block (EfficientNet-Lite0 has 0..15)."""
    backbone_lr: float = 3e-5
    """``tune-last``: learning rate of the fine-tuned backbone weights."""
    flip: bool = True
    """``tune-last``: also train on left-right flipped copies of the images."""
    limit: int | None = None
    """Use only this many images (spread over the sorted list; for tests)."""


@dataclass
class Features:
    """Cached frozen features of one split."""

    pairs: list[Pair]
    images: np.ndarray  # (n, image_dim) pooled; tune-last: (n, views, c, h, w) float16 maps
    texts: np.ndarray  # (n, captions, text_dim)


def load_features(
    pairs: list[Pair], cache_dir: Path, cfg: VLTrainConfig, flip: bool = False
) -> Features:
    """Image and caption features of ``pairs`` (computed once, then read from ``cache_dir``).

    For ``tune-last`` the image features are the activations entering the tuned
    blocks, with a flipped view of each image if ``flip``.

    Example:
        >>> feats = load_features(pairs, Path("cache"), VLTrainConfig())  # doctest: +SKIP
    """
    if cfg.variant == "tune-last":
        imgs = image_maps(
            pairs, cache_dir, cfg.backbone, cfg.image_size, cfg.tune_from_block, flip, cfg.threads
        )
    else:
        imgs = image_features(pairs, cache_dir, cfg.backbone, cfg.image_size, cfg.threads)
    n_caps = min(len(p.captions) for p in pairs)
    caps = [c for p in pairs for c in p.captions[:n_caps]]
    texts = text_features(caps, cache_dir).reshape(len(pairs), n_caps, -1)
    return Features(pairs, imgs, texts)


def _image_embeddings(heads: Any, tail: Any, images: np.ndarray) -> Any:
    import torch

    x = torch.from_numpy(np.asarray(images, dtype=np.float32))
    return heads.image(x if tail is None else tail(x))


def evaluate(heads: Any, feats: Features, tail: Any = None) -> dict[str, float]:
    """Retrieval recalls (both ways, percent) and ``mR`` of trained heads on cached features
    (through the tuned ``tail`` first, on the first view, for ``tune-last``).

    Example:
        >>> evaluate(heads, val)["mR"]  # doctest: +SKIP
    """
    import torch

    n, c, d = feats.texts.shape
    images = feats.images if tail is None else feats.images[:, 0]
    with torch.no_grad():
        img = np.concatenate(
            [
                _image_embeddings(heads, tail, images[i : i + EVAL_BATCH]).numpy()
                for i in range(0, n, EVAL_BATCH)
            ]
        )
        txt = heads.text(torch.from_numpy(feats.texts.reshape(n * c, d))).numpy()
    return retrieval_recalls(img, txt, np.repeat(np.arange(n), c))


def _epoch(
    torch: Any,
    heads: Any,
    opt: Any,
    train: Features,
    rng: np.random.Generator,
    bs: int,
    tail: Any = None,
) -> float:
    heads.train()
    if tail is not None:
        tail.train()  # the encoder keeps its batch norms in eval mode
    order = rng.permutation(len(train.pairs))
    caption = rng.integers(0, train.texts.shape[1], size=len(order))
    view = None if tail is None else rng.integers(0, train.images.shape[1], size=len(order))
    losses = []
    for i in range(0, len(order), bs):
        idx = order[i : i + bs]
        images = train.images[idx] if view is None else train.images[idx, view[i : i + bs]]
        img = _image_embeddings(heads, tail, images)
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
    if tail is not None:
        tail.eval()
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
        >>> model_params(VLTrainConfig(variant="tune-last"), 1280, 384)["tuned_from_block"]
        15
    """
    params: dict[str, Any] = {
        "image_dim": image_dim,
        "text_dim": text_dim,
        "dim": cfg.dim,
        "variant": cfg.variant,
        "hidden": cfg.hidden,
        "image_size": cfg.image_size,
    }
    if cfg.variant == "tune-last":
        params.update(projection="linear", tuned_from_block=cfg.tune_from_block)
    params["templates"] = list(TEMPLATES)
    return params


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
        ValueError: an unknown variant.

    Example:
        >>> entry = train_vl("data/aid", "data/rsicd", "runs/vl")  # doctest: +SKIP
        >>> entry["training"]["validation"]["mR"]  # doctest: +SKIP
    """
    import torch

    from terrasight.models.vl_net import ENCODER_PREFIX, heads_from_params

    if cfg.variant not in VARIANTS:
        raise ValueError(f"unknown variant {cfg.variant!r}; use one of {VARIANTS}")
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
    train = load_features(train_pairs, cache, cfg, flip=cfg.flip)
    val = load_features(val_pairs, cache, cfg)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    image_dim = _image_dim(cfg, train.images)
    params = model_params(cfg, image_dim, train.texts.shape[2])
    heads = heads_from_params(params)
    groups = [{"params": list(heads.parameters()), "lr": cfg.lr}]
    tail, tuned = _tuned_tail(cfg)
    if tuned:
        groups.append({"params": list(tuned.values()), "lr": cfg.backbone_lr})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    rng = np.random.default_rng(cfg.seed)
    best: dict[str, Any] = {"mR": -1.0}
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    with open(out / "train_log.jsonl", "w", encoding="utf-8") as logf:
        for epoch in range(1, cfg.epochs + 1):
            loss = _epoch(torch, heads, opt, train, rng, cfg.batch_size, tail)
            sched.step()
            scores = evaluate(heads, val, tail)
            rec = {
                "epoch": epoch,
                "loss": round(loss, 5),
                **{k: round(v, 3) for k, v in scores.items()},
                "seconds": round(time.time() - start, 1),
            }
            logf.write(json.dumps(rec) + "\n")
            if on_epoch is not None:
                on_epoch(rec)
            if scores["mR"] > best["mR"]:
                state = {k: v.detach().clone() for k, v in heads.state_dict().items()}
                state.update({ENCODER_PREFIX + k: v.detach().clone() for k, v in tuned.items()})
                best = {"mR": scores["mR"], "epoch": epoch, "scores": scores, "state": state}
    splits = {"train_images": len(train_pairs), "val_images": len(val_pairs)}
    return _write_entry(out, cfg, params, best, splits, round(time.time() - start, 1))


def _image_dim(cfg: VLTrainConfig, images: np.ndarray) -> int:
    if cfg.variant != "tune-last":
        return int(images.shape[1])
    from terrasight.models import get_config

    return int(get_config(cfg.backbone).params["channels"][-1])


def _tuned_tail(cfg: VLTrainConfig) -> tuple[Any, dict[str, Any]]:
    """For ``tune-last``: the pretrained backbone's tail and its trainable parameters by name
    (all other backbone weights frozen); else ``(None, {})``."""
    if cfg.variant != "tune-last":
        return None, {}
    from terrasight.models import create_model
    from terrasight.models.vl_net import PooledTail, tuned_parameter_names

    encoder = create_model(cfg.backbone).eval()
    encoder.requires_grad_(False)
    named = dict(encoder.named_parameters())
    tuned = {k: named[k] for k in tuned_parameter_names(encoder, cfg.tune_from_block)}
    for p in tuned.values():
        p.requires_grad_(True)
    return PooledTail(encoder, cfg.tune_from_block), tuned


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
    image = f"frozen EfficientNet-Lite0 (pooled, {cfg.image_size} px) + {cfg.variant} projection"
    if cfg.variant == "tune-last":
        image = (
            f"EfficientNet-Lite0 (pooled, {cfg.image_size} px; MBConv block {cfg.tune_from_block} "
            "onwards and the head conv fine-tuned, the rest frozen) + linear projection"
        )
    entry = {
        "name": cfg.model,
        "kind": "vl",
        "arch": "lit-projection",
        "description": (
            f"Locked-text image-text embedding: {image}, "
            "frozen all-MiniLM-L6-v2 + linear projection, AID/RSICD"
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
