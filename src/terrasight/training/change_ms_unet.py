"""Train the ``ms-unet`` change network on the OSCD cities (PyTorch, CPU) and export it to ONNX.

A small U-Net (one level per entry of ``widths``, a 2x pooling between levels,
batch norms) on 19 channels (:func:`~terrasight.tasks.change.methods.ms_unet_net.unet_inputs`:
both dates' six Sentinel-2 bands, each date standardised by its own per-band
median and spread, their difference and a SWIR flag). Training draws random
crops, half of them centred near a changed pixel, with 90 degree rotations and
flips, a gain and offset per band and date (brightness jitter), and the SWIR
bands dropped at random (so the network serves 4-band inputs too), from the top
rows of each city (``val_share`` of the rows, at the bottom, are kept out). The
loss is class-weighted binary cross-entropy plus soft Dice. The threshold is the
one with the best F1 over the kept-out rows, with the method's noise gate applied
(:mod:`~terrasight.training.change_ms_unet_eval`). :func:`leave_one_out` trains
without each city (or group of cities) in turn and scores it;
:func:`train_change_ms_unet` trains on all of them and writes ``ms-unet.onnx``
and its 8-bit copy.

Example:
    >>> report = train_change_ms_unet("../shared/data", "runs/ms-unet")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.change.methods.ms_features import band_stats, standardise
from terrasight.tasks.change.methods.ms_unet_net import BANDS, CHANNELS, unet_inputs
from terrasight.training.change_ms import scores
from terrasight.training.change_ms_unet_eval import gated, gated_threshold
from terrasight.training.oscd import SWIR, TEN_M, OscdCity, find_root, load_cities

log = logging.getLogger(__name__)

CITY_FOLDS = (
    ("beirut", "paris", "rennes"),
    ("aguasclaras", "mumbai", "nantes"),
    ("bordeaux", "pisa", "saclay_e"),
)
"""Three folds of the nine shared OSCD cities, held out together (balanced by pixels): the
held-out protocol that fits a shared CPU (three trainings instead of nine)."""


@dataclass(frozen=True)
class UnetTrainConfig:
    """Settings of a training run (all seeded).

    Attributes:
        steps: optimiser steps; crop, batch: crop side and crops per step.
        widths: channels of the U-Net levels (one more level than poolings).
        lr, weight_decay: AdamW settings (one-cycle schedule).
        pos_weight: weight of changed pixels in the cross-entropy; dice: weight of the Dice loss.
        near_change: share of crops centred near a changed pixel.
        gain, offset: largest per-band, per-date jitter of the standardised bands.
        swir_drop: share of crops trained without the SWIR bands.
        val_share: share of each training city's rows (the bottom ones) kept out of
            the crops; when above 0 the threshold is chosen on those rows only
            (pixels the network never trained on), else on all training pixels.
        gate: significance of the method's noise gate the threshold is chosen with
            (written into the network; the method uses it by default).
        threads: PyTorch CPU threads.
        seed: seeds NumPy and PyTorch.
    """

    steps: int = 600
    crop: int = 48
    batch: int = 8
    widths: tuple[int, ...] = (12, 16, 24)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    pos_weight: float = 3.0
    dice: float = 1.0
    near_change: float = 0.5
    gain: float = 0.1
    offset: float = 0.1
    swir_drop: float = 0.3
    val_share: float = 0.2
    gate: float = 0.001
    threads: int = 1
    seed: int = 0


@dataclass(frozen=True)
class CityArrays:
    """One city standardised: both dates ``(6, h, w)`` float32 and the truth ``(h, w)``."""

    name: str
    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray


def city_arrays(city: OscdCity) -> CityArrays:
    """Each date standardised by its own per-band median and spread (as the method does)."""
    zb = standardise(city.before, band_stats(city.before))
    za = standardise(city.after, band_stats(city.after))
    return CityArrays(city.name, zb, za, city.truth)


def build_unet(widths: Sequence[int] = (12, 16, 24)) -> Any:
    """The PyTorch U-Net: ``(n, 19, h, w)`` -> change logit ``(n, 1, h, w)``.

    One level per width, a 2x pooling between levels (``h`` and ``w`` must be
    multiples of ``2 ** (len(widths) - 1)``).
    """
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    ws = [int(w) for w in widths]

    class Unet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.ModuleList(
                block(cin, cout) for cin, cout in zip([CHANNELS, *ws[:-1]], ws, strict=True)
            )
            self.dec = nn.ModuleList(block(ws[i + 1] + ws[i], ws[i]) for i in range(len(ws) - 1))
            self.head = nn.Conv2d(ws[0], 1, 1)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for i, enc in enumerate(self.enc):
                x = enc(x if i == 0 else self.pool(x))
                skips.append(x)
            for i in range(len(self.dec) - 1, -1, -1):
                x = self.dec[i](torch.cat([self.up(x), skips[i]], 1))
            return self.head(x)

    return Unet()


def multiple(widths: Sequence[int]) -> int:
    """Height and width a network of ``widths`` needs a multiple of."""
    return int(2 ** (len(widths) - 1))


def _train_rows(c: CityArrays, cfg: UnetTrainConfig) -> int:
    """Rows of ``c`` that crops may come from (the rest is kept for the threshold)."""
    return int(round(c.truth.shape[0] * (1.0 - cfg.val_share)))


def _crop(c: CityArrays, rng: np.random.Generator, cfg: UnetTrainConfig) -> tuple:
    """One augmented crop: inputs ``(19, s, s)`` and truth ``(s, s)``."""
    s = cfg.crop
    h, w = _train_rows(c, cfg), c.truth.shape[1]
    if rng.random() < cfg.near_change and c.truth[:h].any():
        ys, xs = np.nonzero(c.truth[:h])
        i = int(rng.integers(ys.size))
        y0 = int(np.clip(ys[i] - rng.integers(s), 0, h - s))
        x0 = int(np.clip(xs[i] - rng.integers(s), 0, w - s))
    else:
        y0, x0 = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
    win = (slice(None), slice(y0, y0 + s), slice(x0, x0 + s))
    dates = []
    for z in (c.before, c.after):
        gain = 1.0 + rng.uniform(-cfg.gain, cfg.gain, (BANDS, 1, 1))
        off = rng.uniform(-cfg.offset, cfg.offset, (BANDS, 1, 1))
        dates.append((z[win] * gain + off).astype(np.float32))
    n = 4 if rng.random() < cfg.swir_drop else BANDS
    x = unet_inputs(dates[0][:n], dates[1][:n])
    t = c.truth[y0 : y0 + s, x0 : x0 + s]
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    x, t = np.rot90(x, k, (1, 2)), np.rot90(t, k)
    if flip:
        x, t = x[:, :, ::-1], t[:, ::-1]
    return np.ascontiguousarray(x), np.ascontiguousarray(t)


def fit_unet(cities: Sequence[CityArrays], cfg: UnetTrainConfig) -> Any:
    """Train the U-Net on ``cities``; returns the torch module in eval mode."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    fair = [c for c in cities if min(_train_rows(c, cfg), c.truth.shape[1]) >= cfg.crop]
    sizes = np.array([c.truth.size for c in fair], float)
    pick = sizes / sizes.sum()
    net = build_unet(cfg.widths)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(cfg.pos_weight))
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    t0, running = time.perf_counter(), 0.0
    try:
        net.train()
        for step in range(cfg.steps):
            crops = [_crop(fair[rng.choice(len(fair), p=pick)], rng, cfg) for _ in range(cfg.batch)]
            x = torch.from_numpy(np.stack([c[0] for c in crops]))
            t = torch.from_numpy(np.stack([c[1] for c in crops])[:, None].astype(np.float32))
            logit = net(x)
            p = torch.sigmoid(logit)
            dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
            loss = bce(logit, t) + cfg.dice * dice
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running = 0.98 * running + 0.02 * float(loss.detach())
            if (step + 1) % 250 == 0:
                log.info("step %d loss %.3f (%.0f s)", step + 1, running, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return net.eval()


def predict(net: Any, c: CityArrays, swir: bool = True, gate: float = 0.1) -> np.ndarray:
    """The network's change probability over a whole city, float32 ``(h, w)``, gated.

    Zero where the change vector is within the city's noise (as the method answers).
    """
    import torch

    n = BANDS if swir else 4
    x = unet_inputs(c.before[:n], c.after[:n])
    h, w = c.truth.shape
    m = multiple([0] * len(net.enc))
    x = np.pad(x, ((0, 0), (0, -h % m), (0, -w % m)), mode="reflect")
    with torch.no_grad():
        prob = torch.sigmoid(net(torch.from_numpy(x[None])))[0, 0].numpy()
    return gated(prob[:h, :w], c.before[:n], c.after[:n], gate)


def choose_threshold(net: Any, cities: Sequence[CityArrays], cfg: UnetTrainConfig) -> dict:
    """Thresholds with the best F1 pooled over ``cities`` (both band sets together).

    ``"held_rows"``: on the rows kept out of the crops (``cfg.val_share``), or
    ``None`` without them; ``"trained_rows"``: on the rows crops came from;
    ``"threshold"``: the one the configuration uses (the first when it exists).
    """
    probs, truths, fit_rows, held_rows = [], [], [], []
    for c in cities:
        rows = np.arange(c.truth.shape[0])[:, None] < _train_rows(c, cfg)
        for swir in (True, False):
            probs.append(predict(net, c, swir, cfg.gate))
            truths.append(c.truth)
            fit_rows.append(np.broadcast_to(rows, c.truth.shape))
            held_rows.append(np.broadcast_to(~rows, c.truth.shape))
    trained = gated_threshold(probs, truths, fit_rows)
    held = gated_threshold(probs, truths, held_rows) if cfg.val_share > 0 else None
    return {"threshold": trained if held is None else held, "held_rows": held,
            "trained_rows": trained}  # fmt: skip


def export_onnx(net: Any, path: Path, threshold: float, meta: dict[str, Any]) -> Path:
    """Write the network as ONNX (sigmoid included) with ``threshold`` in its metadata."""
    import onnx
    import torch

    graph = torch.nn.Sequential(net, torch.nn.Sigmoid()).eval()
    x = torch.zeros(1, CHANNELS, 64, 64)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        graph,
        (x,),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["x"],
        output_names=["prob"],
        dynamic_axes={"x": {2: "h", 3: "w"}, "prob": {2: "h", 3: "w"}},
    )
    model = onnx.load(str(path))
    entries = {
        "threshold": f"{threshold:.2f}",
        "multiple": str(multiple([0] * len(net.enc))),
        **{k: json.dumps(v) for k, v in meta.items()},
    }
    for key, value in entries.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(path))
    return path


def _load(data: str | Path, names: Sequence[str] | None) -> list[CityArrays]:
    return [city_arrays(c) for c in load_cities(find_root(data), TEN_M + SWIR, names)]


def leave_one_out(
    data: str | Path,
    cfg: UnetTrainConfig,
    work: Path | None = None,
    folds: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Hold out each city (or each group of ``folds``) in turn: train on the rest, score it.

    Every held-out city is scored with 6 and with 4 bands (gated as the method
    answers), by a network that never saw it, with a threshold chosen on that
    network's training cities only (``"pooled"``; with ``cfg.val_share``,
    ``"pooled_trained_rows"`` scores the threshold chosen on the rows the network
    trained on instead, for comparison). With
    ``work``, each fold's network is written there (:func:`fold_path`, one file per
    held-out city of the fold, the same network) with its scores beside it.
    """
    cities = _load(data, None)
    groups = folds or [[c.name] for c in cities]
    rows: dict[str, Any] = {}
    parts: dict[str, list] = {"6": [], "4": [], "6t": [], "4t": []}
    t0 = time.perf_counter()
    for group in groups:
        train = [c for c in cities if c.name not in group]
        net = fit_unet(train, cfg)
        chosen = choose_threshold(net, train, cfg)
        threshold = chosen["threshold"]
        for held in (c for c in cities if c.name in group):
            rows[held.name] = {**chosen, "trained_on": [c.name for c in train]}
            for key, swir in (("6", True), ("4", False)):
                prob = predict(net, held, swir, cfg.gate)
                rows[held.name][key] = scores(prob >= threshold, held.truth)
                parts[key].append((prob.ravel() >= threshold, held.truth.ravel()))
                alt = prob.ravel() >= chosen["trained_rows"]
                parts[key + "t"].append((alt, held.truth.ravel()))
            if work is not None:
                meta = {"held_out": held.name, "gate": cfg.gate}
                export_onnx(net, fold_path(work, held.name), threshold, meta)
                fold_path(work, held.name).with_suffix(".json").write_text(
                    json.dumps({"held_out": held.name, **rows[held.name]}, indent=2)
                )
            log.info("held out %s: F1 6 bands %.3f, 4 bands %.3f", held.name,
                     rows[held.name]["6"]["f1"], rows[held.name]["4"]["f1"])  # fmt: skip
    pooled = {
        k: scores(np.concatenate([p for p, _ in v]), np.concatenate([t for _, t in v]))
        for k, v in parts.items()
    }
    return {
        "cities": rows,
        "pooled": {k: pooled[k] for k in ("6", "4")},
        "pooled_trained_rows": {k: pooled[k + "t"] for k in ("6", "4")},
        "config": asdict(cfg),
        "seconds": round(time.perf_counter() - t0),
    }


def fold_path(work: Path, held: str) -> Path:
    """Where :func:`leave_one_out` writes the network trained without ``held``."""
    return Path(work) / f"ms-unet-without-{held}.onnx"


def train_change_ms_unet(
    data: str | Path,
    out: str | Path,
    cfg: UnetTrainConfig | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train on every OSCD city under ``data`` (or only ``names``); write
    ``out/ms-unet.onnx``, its 8-bit ``out/ms-unet-int8.onnx`` and ``out/train_log.json``.
    Returns the log.
    """
    cfg = cfg or UnetTrainConfig()
    cities = _load(data, names)
    net = fit_unet(cities, cfg)
    chosen = choose_threshold(net, cities, cfg)
    threshold = chosen["threshold"]
    out = Path(out)
    path = export_onnx(
        net, out / "ms-unet.onnx", threshold, {"cities": [c.name for c in cities], **asdict(cfg)}
    )
    from terrasight.training.change_ms_unet_int8 import quantize_unet

    int8 = quantize_unet(path, out / "ms-unet-int8.onnx", cities)
    report = {
        "weights": str(path),
        "int8_weights": str(int8),
        **chosen,
        "cities": [c.name for c in cities],
        "config": asdict(cfg),
    }
    (out / "train_log.json").write_text(json.dumps(report, indent=2))
    return report
