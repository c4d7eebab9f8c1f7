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
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import DatasetLayoutError
from terrasight.tasks.change.methods.learned import unit_to_model
from terrasight.training.change_data import (  # noqa: F401  (re-exported)
    PairSource,
    Region,
    TrainConfig,
    geometric,
    load_airchange,
    real_pair,
)
from terrasight.training.synthetic import Pair

log = logging.getLogger(__name__)


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


def validate(
    model: Any, regions: list[Region], steps: int = 50, at: tuple[float, ...] = ()
) -> dict[str, float]:
    """Pooled F1 on the validation strips at 0.5 and at the best threshold (``1 / steps`` apart).

    ``at`` adds ``f1_at_<t>`` for each threshold ``t`` (rounded to the nearest edge).

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
        **{f"f1_at_{t}": float(f1[int(round(t * steps))]) for t in at},
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
    cfg: TrainConfig = TrainConfig(),  # noqa: B008  (frozen)
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
    train, val = load_airchange(data_dir, cfg.limit_pairs, cfg.sites)
    source = PairSource(train, cfg, aid_dir)
    config = get_config(cfg.model)
    config = replace(config, params={**config.params, **cfg.model_params})
    model = build_model(config, pretrained=False).to(memory_format=torch.channels_last)
    if cfg.init:
        from terrasight.models.checkpoints import load_partial
        from terrasight.models.weights import load_npz

        load_partial(model, load_npz(cfg.init), cfg.init, set())
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
