"""Train the coarse-cover network: water and vegetation from RGB at ~10 m, taught by NIR and SWIR.

The OSCD cities are Sentinel-2 scenes (two dates each) with blue, green, red,
near-infrared and short-wave infrared bands. Their infrared bands label every
pixel without a person (:func:`index_labels`): vegetation where NDVI is high,
water where NDWI and MNDWI are high and NDVI low, other (built-up, bare, rock)
where NDVI is low and MNDWI not high; pixels between stay unlabelled. The
network (:func:`build_network`, four dilated 3 x 3 convolutions, 170 m of
context at 10 m) learns to give those labels from red, green and blue alone,
as an 8-bit picture of the scene shows them and standardised by the scene's own
per-band median and spread (:func:`~terrasight.models.onnx_coarse_cover.network_inputs`).
Each crop is a random rendering (:func:`rendered`): each band stretched by its
own 2-98 % range (as the land-cover run does to 16-bit images), all bands by a
common range, or a plain gain, then a gamma and 8-bit rounding.

Cities are split before training: :data:`VALIDATION` are never trained on and
give the held-out accuracy in the network's metadata; the shipped network is
the one trained on the others.

Example:
    >>> y = index_labels(np.array([[[0.05]], [[0.08]], [[0.05]], [[0.4]], [[0.2]]]))
    >>> y.tolist()  # NDVI 0.78: vegetation
    [[2]]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.models.onnx_coarse_cover import CLASSES, network_inputs
from terrasight.training.oscd import find_root, load_cities

BANDS = ("B02", "B03", "B04", "B08", "B11")
"""Blue, green, red, near-infrared and SWIR 1.6 um: what the labels are made from."""
VALIDATION = ("mumbai", "rennes")
"""OSCD cities held out from training (a tropical coast and a temperate town)."""
IGNORE = 255


@dataclass(frozen=True)
class CoarseTrainConfig:
    """How the coarse-cover network is trained.

    Example:
        >>> CoarseTrainConfig().steps
        3000
    """

    steps: int = 3000
    batch: int = 8
    crop: int = 96
    width: int = 24
    lr: float = 3e-3
    water_weight: float = 4.0
    local_share: float = 0.4
    seed: int = 0
    threads: int = 1
    validation: tuple[str, ...] = field(default=VALIDATION)


def index_labels(x: np.ndarray) -> np.ndarray:
    """uint8 labels of ``(5, h, w)`` reflectance (blue, green, red, nir, swir16): 0 other,
    1 water, 2 vegetation, 255 unsure.

    Example:
        >>> index_labels(np.array([[[0.1]], [[0.12]], [[0.08]], [[0.03]], [[0.01]]])).tolist()
        [[1]]
    """
    _, green, red, nir, swir = (np.asarray(b, np.float64) for b in x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
        ndwi = (green - nir) / (green + nir)
        mndwi = (green - swir) / (green + swir)
    y = np.full(red.shape, IGNORE, np.uint8)
    y[(ndvi < 0.25) & (mndwi < 0.1)] = 0
    y[ndvi >= 0.45] = 2
    y[(ndwi > 0.1) & (mndwi > 0.3) & (ndvi < 0.05)] = 1
    return y


@dataclass(frozen=True)
class Scene:
    """One date of one city: ``rgb`` ``(3, h, w)`` reflectance, its index labels, and its
    per-band 2nd, 50th and 98th percentiles ``pct`` ``(3, 3)``."""

    name: str
    rgb: np.ndarray
    labels: np.ndarray

    @property
    def pct(self) -> np.ndarray:
        return np.stack(scene_stats(self.rgb), axis=1)


def load_scenes(data: str | Path, names: Sequence[str] | None = None) -> list[Scene]:
    """Both dates of every (or the named) OSCD city as :class:`Scene` s."""
    out = []
    for city in load_cities(find_root(data), BANDS, names):
        for date, x in (("1", city.before), ("2", city.after)):
            out.append(Scene(f"{city.name}/{date}", x[[2, 1, 0]], index_labels(x)))
    return out


def scene_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-band 2nd, 50th and 98th percentiles of ``(3, h, w)``."""
    low, mid, high = np.percentile(rgb.reshape(3, -1), [2, 50, 98], axis=1)
    return low, mid, high


def rendered(
    crop: np.ndarray, pct: np.ndarray, rng: np.random.Generator, local: bool = False
) -> np.ndarray:
    """The network inputs of a crop ``(3, h, w)`` of a random 8-bit rendering of its scene.

    ``pct`` ``(3, 3)`` holds the scene's per-band 2nd, 50th and 98th percentiles: a
    rendering maps each band through one rising curve, so the rendered scene's
    percentiles are the rendered ``pct``. With ``local`` the crop is standardised by
    its own percentiles instead, as if it were the whole scene: what a scene is made
    of must not decide what a pixel is.
    """
    mode = rng.integers(3)
    if mode == 0:  # each band by its own 2-98 % range
        low, high = pct[:, 0].copy(), pct[:, 2].copy()
    elif mode == 1:  # all bands by one range
        low, high = np.full(3, pct[:, 0].min()), np.full(3, pct[:, 2].max())
    else:  # a plain gain
        low, high = np.zeros(3), np.full(3, rng.uniform(0.2, 0.45))
    low = low * rng.uniform(0.8, 1.2, 3)
    high = np.maximum(high * rng.uniform(0.9, 1.1, 3), low + 1e-3)
    gamma = rng.uniform(0.7, 1.4)

    def render(x: np.ndarray) -> np.ndarray:
        shape = (3,) + (1,) * (x.ndim - 1)
        unit = np.clip((x - low.reshape(shape)) / (high - low).reshape(shape), 0, 1)
        return np.round(255 * unit**gamma).astype(np.float32)

    picture = render(crop)
    if local:  # the crop as a scene of its own (a scene all sea, all fields, all town)
        return network_inputs(picture, scene_stats(picture))
    stats = render(pct)
    return network_inputs(picture, (stats[:, 0], stats[:, 1], stats[:, 2]))


def build_network(width: int = 24) -> Any:
    """Four dilated 3 x 3 convolutions and a 1 x 1 classifier (PyTorch)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(6, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, len(CLASSES), 1),
    )  # fmt: skip


def fit(
    scenes: Sequence[Scene], cfg: CoarseTrainConfig, log: Callable[[str], None] | None = None
) -> Any:
    """A network trained on random crops of random renderings of ``scenes``."""
    import torch

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    net = build_network(cfg.width)
    opt = torch.optim.Adam(net.parameters(), cfg.lr)
    weight = torch.tensor([1.0, cfg.water_weight, 1.0])  # water is rare in most scenes
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, ignore_index=IGNORE)
    start = time.perf_counter()
    pcts = [s.pct for s in scenes]
    for step in range(cfg.steps):
        xs, ys = [], []
        for _ in range(cfg.batch):
            k = int(rng.integers(len(scenes)))
            s = scenes[k]
            h, w = s.labels.shape
            i, j = int(rng.integers(0, h - cfg.crop)), int(rng.integers(0, w - cfg.crop))
            local = bool(rng.random() < cfg.local_share)
            x = rendered(s.rgb[:, i : i + cfg.crop, j : j + cfg.crop], pcts[k], rng, local)
            y = s.labels[i : i + cfg.crop, j : j + cfg.crop]
            if rng.random() < 0.5:
                x, y = x[:, :, ::-1], y[:, ::-1]
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[::-1]
            xs.append(np.ascontiguousarray(x))
            ys.append(np.ascontiguousarray(y).astype(np.int64))
        loss = loss_fn(net(torch.from_numpy(np.stack(xs))), torch.from_numpy(np.stack(ys)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and step % 250 == 0:
            log(f"step {step} loss {loss.item():.3f} {time.perf_counter() - start:.0f} s")
    return net.eval()


def shown(rgb: np.ndarray) -> np.ndarray:
    """A reflectance scene as the land-cover run shows a 16-bit image: each band 2-98 % to 0-255."""
    low, high = np.percentile(rgb.reshape(3, -1), [2, 98], axis=1)
    unit = (rgb - low[:, None, None]) / np.maximum(high - low, 1e-6)[:, None, None]
    return (np.clip(unit, 0, 1) * 255).astype(np.float32)


def predict(net: Any, rgb: np.ndarray) -> np.ndarray:
    """Class indexes ``(h, w)`` of a reflectance scene, shown as :func:`shown` shows it."""
    import torch

    picture = shown(rgb)
    with torch.no_grad():
        x = torch.from_numpy(network_inputs(picture, scene_stats(picture)))[None]
        return np.asarray(net(x)[0].argmax(0).numpy(), np.uint8)


def evaluate(net: Any, scenes: Sequence[Scene]) -> dict[str, Any]:
    """Accuracy, per-class recall and precision, and the confusion matrix on labelled pixels."""
    k = len(CLASSES)
    cm = np.zeros((k, k), np.int64)
    for s in scenes:
        pred = predict(net, s.rgb)
        ok = s.labels != IGNORE
        np.add.at(cm, (s.labels[ok], pred[ok]), 1)
    recall = {c: round(float(cm[i, i] / max(cm[i].sum(), 1)), 4) for i, c in enumerate(CLASSES)}
    precision = {
        c: round(float(cm[i, i] / max(cm[:, i].sum(), 1)), 4) for i, c in enumerate(CLASSES)
    }
    return {
        "scenes": [s.name for s in scenes],
        "pixels": int(cm.sum()),
        "accuracy": round(float(np.trace(cm) / max(cm.sum(), 1)), 4),
        "recall": recall,
        "precision": precision,
        "confusion": {"rows_truth_cols_predicted": list(CLASSES), "counts": cm.tolist()},
    }


def export_onnx(net: Any, path: Path, meta: dict[str, Any]) -> Path:
    """Write the network (softmax included) as ONNX with ``meta`` in its metadata."""
    import onnx
    import torch

    graph = torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        graph,
        (torch.zeros(1, 6, 64, 64),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["x"],
        output_names=["prob"],
        dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "prob": {0: "n", 2: "h", 3: "w"}},
    )
    model = onnx.load(str(path))
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


def train_landcover_coarse(
    data: str | Path,
    out: str | Path,
    cfg: CoarseTrainConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train on the OSCD cities but :attr:`CoarseTrainConfig.validation`, score those, and write
    ``out/coarse-cover.onnx`` and ``out/train_log.json``. Returns the log.

    Example:
        >>> train_landcover_coarse("../shared/data", "runs/coarse")["validation"]["accuracy"]  # doctest: +SKIP
        0.93
    """
    cfg = cfg or CoarseTrainConfig()
    out = Path(out)
    scenes = load_scenes(data)
    held = [s for s in scenes if s.name.split("/")[0] in cfg.validation]
    train = [s for s in scenes if s.name.split("/")[0] not in cfg.validation]
    start = time.perf_counter()
    net = fit(train, cfg, log)
    result = {
        "classes": list(CLASSES),
        "metres": 10.0,
        "labels": "OSCD Sentinel-2 L1C; NDVI >= 0.45 vegetation; NDWI > 0.1, MNDWI > 0.3 and "
        "NDVI < 0.05 water; NDVI < 0.25 and MNDWI < 0.1 other; the rest unlabelled",
        "train_scenes": [s.name for s in train],
        "validation": evaluate(net, held) if held else None,
        "config": asdict(cfg),
        "seconds": round(time.perf_counter() - start, 1),
    }
    export_onnx(net, out / "coarse-cover.onnx", result)
    (out / "train_log.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result
