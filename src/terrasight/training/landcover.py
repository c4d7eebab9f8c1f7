"""``terrasight train landcover``: the land-cover network, trained on the Dubai tiles.

Split by tile (:data:`~terrasight.training.landcover_data.SPLIT`): tiles 3, 6,
7 and 8 train; tile 1 validates (the epoch kept, the unsure threshold); tile 4
is the test tile, never read here. Each step draws ``batch_size`` crops of
``crop`` px from the training images, each at a random scale (0.5-2x,
log-uniform: robust to pixel size), turned by a multiple of 90 degrees,
flipped, with brightness, contrast, colour and saturation jitter. The loss is
cross-entropy weighted by the inverse square root of each class's frequency;
unlabelled pixels count nowhere. The encoder (ImageNet EfficientNet-Lite0) is
frozen before ``train_from_block``; the blocks from there on and the decoder
are trained (AdamW, cosine schedule), with an exponential moving average of
the weights that is what validation scores and what is kept.

Outputs in ``out``: ``best.pt`` (the kept weights), ``train_log.jsonl`` (one
line per epoch), then, from :mod:`terrasight.training.landcover_export`, the
float and 8-bit ONNX files and ``landcover.json`` (the model's entry: files,
threshold, validation figures, this configuration).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.landcover.classes import N_CLASSES
from terrasight.training.landcover_data import IGNORE, SPLIT, Sample, class_frequencies, load_tiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandCoverTrainConfig:
    """Everything that determines a land-cover training run (written beside the weights)."""

    epochs: int = 6
    steps_per_epoch: int = 60
    batch_size: int = 8
    crop: int = 192
    seed: int = 0
    lr: float = 2e-3
    backbone_lr: float = 2e-4
    weight_decay: float = 1e-4
    train_from_block: int = 11
    width: int = 48
    min_scale: float = 0.5
    max_scale: float = 2.0
    ema: float = 0.98
    threads: int = 2
    init: str | None = None
    """Weights to start from instead of ImageNet alone: an earlier run's ``best.pt``, or an
    exported ``.onnx`` file (the shipped 8-bit one too; see
    :mod:`terrasight.training.landcover_init`)."""
    dice: float = 0.0
    """Weight of the soft Dice loss added to the cross-entropy (0: cross-entropy alone)."""
    warmup: int = 0
    """Steps of linear learning-rate warm-up before the cosine decay."""


def _crop(rng: np.random.Generator, s: Sample, size: int, scale: float) -> tuple[Any, Any]:
    """A ``size`` crop of ``s`` at ``scale`` as torch tensors ``(3, size, size)``, ``(size, size)``."""
    import torch
    import torch.nn.functional as F

    h, w = s.labels.shape
    src = min(int(round(size / scale)), h, w)
    y, x = int(rng.integers(0, h - src + 1)), int(rng.integers(0, w - src + 1))
    img = torch.from_numpy(np.ascontiguousarray(s.image[y : y + src, x : x + src])).permute(2, 0, 1)
    lab = torch.from_numpy(np.ascontiguousarray(s.labels[y : y + src, x : x + src]))
    if src != size:
        img = F.interpolate(img[None].float(), size=(size, size), mode="bilinear", antialias=True)[
            0
        ]
        lab = F.interpolate(lab[None, None].float(), size=(size, size), mode="nearest")[0, 0]
    return img.float(), lab.long()


def _photometric(rng: np.random.Generator, img: Any) -> Any:
    """Brightness, contrast, per-channel gain and saturation jitter on a 0-255 image."""
    mean = img.mean()
    img = (img - mean) * rng.uniform(0.7, 1.3) + mean * rng.uniform(0.75, 1.25)
    img = img * img.new_tensor(rng.uniform(0.9, 1.1, 3))[:, None, None]
    grey = img.mean(0, keepdim=True)
    img = grey + (img - grey) * rng.uniform(0.6, 1.4)
    return img.clamp(0, 255)


def draw_batch(
    rng: np.random.Generator, samples: list[Sample], cfg: LandCoverTrainConfig
) -> tuple[Any, Any]:
    """``(images (n, 3, crop, crop) 0-255, labels (n, crop, crop))`` of augmented crops.

    Images are drawn in proportion to their pixel count.
    """
    import torch

    sizes = np.array([s.labels.size for s in samples], float)
    images, labels = [], []
    for i in rng.choice(len(samples), cfg.batch_size, p=sizes / sizes.sum()):
        scale = math.exp(rng.uniform(math.log(cfg.min_scale), math.log(cfg.max_scale)))
        img, lab = _crop(rng, samples[i], cfg.crop, scale)
        k = int(rng.integers(4))
        img, lab = torch.rot90(img, k, (1, 2)), torch.rot90(lab, k, (0, 1))
        if rng.random() < 0.5:
            img, lab = img.flip(2), lab.flip(1)
        images.append(_photometric(rng, img))
        labels.append(lab)
    return torch.stack(images).contiguous(memory_format=torch.channels_last), torch.stack(labels)


def predict_probabilities(net: Any, image: np.ndarray) -> np.ndarray:
    """Class probabilities ``(classes, h, w)`` of a torch network on a whole ``(h, w, 3)`` image."""
    import torch

    from terrasight.models.onnx_change import pad_to_multiple

    h, w = image.shape[:2]
    x = pad_to_multiple(image.transpose(2, 0, 1).astype(np.float32), 32)
    with torch.inference_mode():
        logits = net(torch.from_numpy(np.ascontiguousarray(x))[None])
    return torch.softmax(logits, 1)[0, :, :h, :w].numpy()


def confusion(pred: np.ndarray, labels: np.ndarray, n: int = N_CLASSES + 1) -> np.ndarray:
    """Confusion counts ``[truth, prediction]`` over labelled pixels (``pred`` may hold ``n - 1``).

    Example:
        >>> confusion(np.array([0, 1, 5]), np.array([0, 0, 1]))[0].tolist()
        [1, 1, 0, 0, 0, 0]
    """
    keep = labels != IGNORE
    idx = labels[keep].astype(np.int64) * n + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=n * n).reshape(n, n)


def iou_table(conf: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Per-class IoU (predicted classes only) and ``mean_iou`` from a confusion matrix.

    A pixel predicted ``unknown`` counts as a miss of its true class.

    Example:
        >>> iou_table(np.array([[2, 0], [1, 1]]), ("a", "b"))
        {'a': 0.6667, 'b': 0.5, 'mean_iou': 0.5834}
    """
    out = {}
    for k, name in enumerate(names):
        inter = conf[k, k]
        union = conf[k, :].sum() + conf[:, k].sum() - inter
        out[name] = round(float(inter / union), 4) if union else float("nan")
    out["mean_iou"] = round(float(np.nanmean(list(out.values()))), 4)
    return out


def unsure_threshold(hist_right: np.ndarray, hist_all: np.ndarray, edges: np.ndarray) -> float:
    """The upper edge of the highest max-probability bin where the model is right less than
    half the time (bins with under 0.1% of the pixels ignored); pixels below it are ``unknown``.

    Example:
        >>> unsure_threshold(np.array([1, 4, 9]), np.array([4, 8, 10]), np.array([.2, .4, .6, 1]))
        0.4
    """
    enough = hist_all >= 0.001 * hist_all.sum()
    poor = np.flatnonzero(enough & (hist_right < 0.5 * hist_all))
    return round(float(edges[poor[-1] + 1]), 3) if len(poor) else 0.0


def evaluate(net: Any, samples: list[Sample]) -> dict[str, Any]:
    """Validation figures of a torch network: IoU without and with the chosen unsure threshold."""
    from terrasight.tasks.landcover.classes import CLASSES

    edges = np.linspace(0.2, 1.0, 33)
    right, total = np.zeros(32), np.zeros(32)
    probs = []
    for s in samples:
        p = predict_probabilities(net, s.image)
        top, pred = p.max(0), p.argmax(0)
        keep = s.labels != IGNORE
        b = np.clip(np.digitize(top[keep], edges) - 1, 0, 31)
        total += np.bincount(b, minlength=32)
        right += np.bincount(b[pred[keep] == s.labels[keep]], minlength=32)
        probs.append((top, pred))
    threshold = unsure_threshold(right, total, edges)
    conf = np.sum(
        [confusion(pred, s.labels) for (_, pred), s in zip(probs, samples, strict=True)], 0
    )
    conf_t = np.sum(
        [
            confusion(np.where(top < threshold, N_CLASSES, pred), s.labels)
            for (top, pred), s in zip(probs, samples, strict=True)
        ],
        0,
    )
    names = CLASSES[:N_CLASSES]
    return {
        "iou": iou_table(np.asarray(conf), names),
        "threshold": threshold,
        "iou_with_unknown": iou_table(np.asarray(conf_t), names),
        "unknown_share": round(float(conf_t[:, N_CLASSES].sum() / conf_t.sum()), 4),
    }


def soft_dice_loss(logits: Any, labels: Any) -> Any:
    """``1 -`` the mean soft Dice over classes of a batch, unlabelled pixels left out.

    Rare classes weigh as much as common ones, so it pulls their IoU up.

    Example:
        >>> import torch
        >>> y = torch.tensor([[[0, 1], [1, IGNORE]]])
        >>> x = torch.nn.functional.one_hot(y.clamp(max=1), 2).permute(0, 3, 1, 2) * 20.0
        >>> round(float(soft_dice_loss(x, y)), 3)
        0.0
    """
    import torch

    keep = (labels != IGNORE).unsqueeze(1)
    prob = torch.softmax(logits, 1) * keep
    onehot = torch.nn.functional.one_hot(labels.clamp(max=logits.shape[1] - 1), logits.shape[1])
    onehot = onehot.permute(0, 3, 1, 2) * keep
    inter = (prob * onehot).sum((0, 2, 3))
    denom = prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + 1) / (denom + 1)).mean()


def _ema_update(ema: Any, net: Any, decay: float) -> None:
    import torch

    with torch.no_grad():
        for e, p in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(p, alpha=1 - decay)
            else:
                e.copy_(p)


def train_landcover(
    data: str | Path,
    out: str | Path,
    cfg: LandCoverTrainConfig = LandCoverTrainConfig(),
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train on the training tiles, keep the epoch with the best validation mean IoU.

    Returns the best epoch's log record; ``out/best.pt`` holds its weights.

    Example:
        >>> train_landcover("../shared/data", "runs/landcover")  # doctest: +SKIP
        {'epoch': 7, 'val': {'iou': {... 'mean_iou': 0.7}, 'threshold': 0.45, ...}, ...}
    """
    import copy

    import torch

    from terrasight.training.landcover_init import build_run_net

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train, val = load_tiles(data, SPLIT["train"]), load_tiles(data, SPLIT["val"])
    freq = class_frequencies(train)
    weights = torch.tensor(1 / np.sqrt(np.maximum(freq, 1e-3)), dtype=torch.float32)
    weights = weights / weights.mean()
    net = build_run_net(cfg.width, cfg.train_from_block, cfg.init)
    net = net.to(memory_format=torch.channels_last)
    decoder, tuned = net.trained_parameters()
    groups = [{"params": decoder, "lr": cfg.lr}, {"params": tuned, "lr": cfg.backbone_lr}]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    total = cfg.epochs * cfg.steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda i: (
            min(1.0, (i + 1) / (cfg.warmup + 1))
            * 0.5
            * (1 + math.cos(math.pi * min(i, total) / total))
        ),
    )
    ema = copy.deepcopy(net).eval()
    best: dict[str, Any] = {}
    record: dict[str, Any]
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    with open(out / "train_log.jsonl", "w") as logf:
        for epoch in range(1, cfg.epochs + 1):
            t0, losses = time.time(), []
            net.train()
            for _ in range(cfg.steps_per_epoch):
                x, y = draw_batch(rng, train, cfg)
                logits = net(x)
                loss = torch.nn.functional.cross_entropy(
                    logits, y, weight=weights, ignore_index=IGNORE
                )
                if cfg.dice:
                    loss = loss + cfg.dice * soft_dice_loss(logits, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                _ema_update(ema, net, cfg.ema)
                losses.append(loss.item())
            record = {
                "epoch": epoch,
                "loss": round(float(np.mean(losses)), 4),
                "val": evaluate(ema, val),
                "seconds": round(time.time() - t0, 1),
            }
            logf.write(json.dumps(record) + "\n")
            logf.flush()
            if on_epoch is not None:
                on_epoch(record)
            if not best or record["val"]["iou"]["mean_iou"] > best["val"]["iou"]["mean_iou"]:
                best = record
                torch.save(ema.state_dict(), out / "best.pt")
    return best
