"""The land-cover network of a training run, exported to ONNX, quantised, validated.

:func:`export_run` folds the kept weights' batch norms, exports the float graph
(checked against torch), quantises it to 8 bits with the change network's
recipe (static QDQ, int8 weights per channel, uint8 activations, min-max
ranges) calibrated on crops of the training tiles, and scores both on the
validation tile through ONNX Runtime. The 8-bit file is the one used when its
validation mean IoU is within :data:`INT8_TOLERANCE` of the float one. The
unsure threshold is chosen on the validation tile with the network used.
Nothing here reads the test tile.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.errors import OnnxExportError
from terrasight.models.onnx_session import open_session
from terrasight.models.weights import sha256_file
from terrasight.tasks.landcover.classes import CLASSES, N_CLASSES
from terrasight.training.landcover_data import IGNORE, SPLIT, Sample, load_tiles

NAME = "landcover-effnet-lite0"
INT8_TOLERANCE = 0.01
"""Largest drop of validation mean IoU accepted for the 8-bit network."""
RECIPE = "static QDQ, int8 weights per channel, uint8 activations, min-max calibration"


def _export_float(
    run: Path, path: Path, width: int, train_from_block: int, init: str | None = None
) -> None:
    import torch

    from terrasight.models.change_net import fold_batch_norms
    from terrasight.models.onnx_change import _static_same_padding
    from terrasight.training.landcover_init import build_run_net

    # the run's own architecture (folded already when it started from an ONNX file)
    net = build_run_net(width, train_from_block, init if str(init).endswith(".onnx") else None)
    net.load_state_dict(torch.load(run / "best.pt", map_location="cpu", weights_only=True))
    # fixed pads instead of size-dependent ones: a traced size-dependent pad is wrong at
    # other sizes (the same for every input divisible by 32)
    folded = _static_same_padding(fold_batch_norms(net.eval()))

    class Prob(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = folded

        def forward(self, rgb: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net(rgb), 1)

    graph = Prob().eval()
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (1, 3, 96, 64))).float()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (x,),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["rgb"],
            output_names=["prob"],
            dynamic_axes={"rgb": {0: "n", 2: "h", 3: "w"}, "prob": {0: "n", 2: "h", 3: "w"}},
        )
        expected = graph(x).numpy()
        # a second size: shapes baked into the graph show only there
        y = torch.from_numpy(np.random.default_rng(1).uniform(0, 255, (1, 3, 160, 224))).float()
        expected_y = graph(y).numpy()
    session = _session(path)
    for inp, want in ((x, expected), (y, expected_y)):
        diff = np.abs(session.run(None, {"rgb": inp.numpy()})[0] - want).max()
        if not diff <= 1e-3:
            raise OnnxExportError(f"exported {path} differs from torch by {diff:.3g}")


def _session(path: Path) -> Any:
    return open_session(path, threads=0, what="the exported land-cover network")


def calibration_windows(samples: list[Sample], n: int = 24, size: int = 256) -> Iterator[Any]:
    """``n`` seeded ``(1, 3, size, size)`` float32 crops of the training images."""
    rng = np.random.default_rng(0)
    for _ in range(n):
        s = samples[int(rng.integers(len(samples)))]
        h, w = s.labels.shape
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crop = s.image[y : y + size, x : x + size].transpose(2, 0, 1)
        yield {"rgb": np.ascontiguousarray(crop[None], np.float32)}


def quantize(float_path: Path, out: Path, samples: list[Sample]) -> None:
    """Quantise the float export to ``out``, calibrated on crops of ``samples``."""
    from terrasight.models.onnx_int8 import quantize_qdq

    quantize_qdq(float_path, out, calibration_windows(samples))


def score_onnx(path: Path, samples: list[Sample], threshold: float | None = None) -> dict[str, Any]:
    """Validation IoU of an ONNX network, the unsure threshold chosen on ``samples`` unless given.

    Each image is classified whole (padded to a multiple of 32).
    """
    from terrasight.models.onnx_change import pad_to_multiple
    from terrasight.training.landcover import confusion, iou_table, unsure_threshold

    session = _session(path)
    edges = np.linspace(0.2, 1.0, 33)
    right, total = np.zeros(32), np.zeros(32)
    tops, t0, pixels = [], time.time(), 0
    for s in samples:
        h, w = s.labels.shape
        x = pad_to_multiple(s.image.transpose(2, 0, 1).astype(np.float32), 32)[None]
        prob = session.run(None, {"rgb": x})[0][0, :, :h, :w]
        top, pred = prob.max(0), prob.argmax(0)
        keep = s.labels != IGNORE
        b = np.clip(np.digitize(top[keep], edges) - 1, 0, 31)
        total += np.bincount(b, minlength=32)
        right += np.bincount(b[pred[keep] == s.labels[keep]], minlength=32)
        tops.append((top, pred))
        pixels += h * w
    seconds = time.time() - t0
    if threshold is None:
        threshold = unsure_threshold(right, total, edges)
    names = CLASSES[:N_CLASSES]
    conf = np.sum([confusion(p, s.labels) for (_, p), s in zip(tops, samples, strict=True)], 0)
    conf_t = np.sum(
        [
            confusion(np.where(t < threshold, N_CLASSES, p), s.labels)
            for (t, p), s in zip(tops, samples, strict=True)
        ],
        0,
    )
    return {
        "iou": iou_table(np.asarray(conf), names),
        "threshold": threshold,
        "iou_with_unknown": iou_table(np.asarray(conf_t), names),
        "unknown_share": round(float(conf_t[:, N_CLASSES].sum() / conf_t.sum()), 4),
        "mpx_per_s": round(pixels / 1e6 / seconds, 3),
    }


CLI_FLAGS = {
    "epochs": "--epochs",
    "steps_per_epoch": "--steps",
    "seed": "--seed",
    "train_from_block": "--train-from-block",
    "lr": "--lr",
    "backbone_lr": "--backbone-lr",
    "dice": "--dice",
    "warmup": "--warmup",
    "init": "--init",
}
"""Configuration fields that ``terrasight train landcover`` sets, and their options."""


def train_command(cfg: dict[str, Any], version: str) -> str:
    """The ``terrasight train landcover`` command line that repeats a run of ``cfg``.

    Example:
        >>> train_command({"epochs": 2, "lr": 0.001, "backbone_lr": 0.0002}, "2")[66:]
        '--epochs 2 --lr 0.001 --backbone-lr 0.0002 --version 2'
    """
    from terrasight.training.landcover import LandCoverTrainConfig

    default = LandCoverTrainConfig()
    parts = ["terrasight train landcover --data <shared data> -o runs/landcover"]
    for field, flag in CLI_FLAGS.items():
        value = cfg.get(field)
        # the command's encoder learning rate defaults to a tenth of --lr
        usual = (
            cfg.get("lr", default.lr) / 10 if field == "backbone_lr" else getattr(default, field)
        )
        if value is not None and value != usual:
            parts.append(f"{flag} {value}")
    return " ".join([*parts, f"--version {version}"])


def export_run(data: str | Path, run: str | Path, version: str = "1") -> dict[str, Any]:
    """Export, quantise and validate the kept weights of ``run``; write ``run/landcover.json``.

    Example:
        >>> export_run("../shared/data", "runs/landcover")["use_int8"]  # doctest: +SKIP
        True
    """
    run = Path(run)
    cfg = json.loads((run / "config.json").read_text())
    float_path = run / f"{NAME}-v{version}.onnx"
    int8_path = run / f"{NAME}-v{version}-int8.onnx"
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=run)
    os.close(fd)
    _export_float(run, Path(tmp), cfg["width"], cfg["train_from_block"], cfg.get("init"))
    os.replace(tmp, float_path)
    train, val = load_tiles(data, SPLIT["train"]), load_tiles(data, SPLIT["val"])
    quantize(float_path, int8_path, train)
    del train
    float_val, int8_val = score_onnx(float_path, val), score_onnx(int8_path, val)
    use_int8 = int8_val["iou"]["mean_iou"] >= float_val["iou"]["mean_iou"] - INT8_TOLERANCE
    chosen = int8_val if use_int8 else float_val
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    best = max(log, key=lambda r: r["val"]["iou"]["mean_iou"])

    def section(path: Path) -> dict[str, Any]:
        return {
            "file": path.name,
            "version": version,
            "sha256": sha256_file(path),
            "size": path.stat().st_size,
            "source": "package",
        }

    entry: dict[str, Any] = {
        "name": NAME,
        "description": "land cover per pixel: EfficientNet-Lite0 (ImageNet) with an FPN decoder",
        "classes": list(CLASSES[:N_CLASSES]),
        "unknown": CLASSES[N_CLASSES],
        "threshold": chosen["threshold"],
        "input": "RGB float32 0-255, (n, 3, h, w), h and w multiples of 32",
        "weights": section(float_path),
        "int8": {**section(int8_path), "recipe": RECIPE} if use_int8 else None,
        "training": {
            "config": cfg,
            "best_epoch": best["epoch"],
            "split": {k: [f"tile{t}" for t in v] for k, v in SPLIT.items()},
            "data": "Semantic segmentation of aerial imagery (Humans in the Loop, MBRSC Dubai)",
            "command": train_command(cfg, version),
        },
        "validation": {"tile": "tile1", "float": float_val, "int8": int8_val},
    }
    (run / "landcover.json").write_text(json.dumps(entry, indent=2) + "\n")
    return entry


def ship_run(run: str | Path, dest: str | Path) -> Path:
    """Copy the run's network into ``dest`` (``terrasight/models/weights``) with its entry.

    Only the network in use is copied (the 8-bit one when the entry has it); the
    entry's ``weights`` then names that file, and ``float_weights`` records the
    float export it was made from.

    Example:
        >>> ship_run("runs/landcover", "src/terrasight/models/weights")  # doctest: +SKIP
        PosixPath('src/terrasight/models/weights/landcover-effnet-lite0.json')
    """
    import shutil

    run, dest = Path(run), Path(dest)
    entry = json.loads((run / "landcover.json").read_text())
    if entry.get("int8"):
        section = {k: v for k, v in entry["int8"].items() if k != "recipe"}
        entry["float_weights"] = {k: entry["weights"][k] for k in ("file", "sha256", "size")}
        entry["weights"] = {**section, "recipe": entry["int8"]["recipe"]}
        entry["int8"] = None
    shutil.copyfile(run / entry["weights"]["file"], dest / entry["weights"]["file"])
    path = dest / f"{NAME}.json"
    path.write_text(json.dumps(entry, indent=2) + "\n")
    return path
