"""Land cover per pixel on the Dubai tiles: the shipped network against zero-shot cells.

Split by tile (the same as training, :data:`terrasight.training.landcover_data.SPLIT`):
tiles 3, 6, 7, 8 trained the network; **tile 1 is the validation tile** (it chose
the epoch, the 8-bit network and the unsure threshold, so its figures are
optimistic); **tile 4 is the test tile**, never looked at while tuning. Two
more tiles of the dataset are held back elsewhere.

Rows:

* ``network``: ``terrasight.landcover`` as shipped (8-bit ONNX, windows of 1024 px
  with 64 px overlap), each JPEG classified whole; pixels the network is unsure of
  are ``unknown`` and count as misses of their true class.
* ``network, no unknown``: the same with the threshold at 0 (every pixel gets a class).
* ``zero-shot cells``: what the change facts do today, applied the same way to every
  cell: each 64 px cell (with 32 px of context on each side, a 128 px crop) is
  classified by the image-text model ``terrasight-vl`` over the facts' land-cover
  classes and prompts (built-up -> building, road, water, vegetation and farmland ->
  vegetation, bare land -> bare), and the whole cell takes that class.

IoU per class over all labelled pixels of the tile (unlabelled pixels count
nowhere), mean IoU over the five classes. Speed: megapixels per second of the
whole ``landcover()`` call on this machine (2 cores shared with other work, so
wall-clock figures vary several-fold), outputs in memory; and per CPU-second of
the process (all its threads), which the sharing disturbs less.

Usage::

    .venv/bin/python benchmarks/landcover_accuracy.py [--data ../shared/data]
        [--only network|zero-shot|speed] [--previous runs/v1/landcover-effnet-lite0.json]

``--previous`` scores an earlier model (its entry beside its ONNX file) too, as
the ``previous network`` rows. Speed: the whole ``landcover()`` call on one
2048 x 2048 px image (a validation image reflected out to that size), best of 3.

Writes ``benchmarks/results/landcover_accuracy.json`` (rows not rerun are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from terrasight.tasks.landcover.classes import CLASSES, N_CLASSES
from terrasight.training.landcover import confusion, iou_table
from terrasight.training.landcover_data import SPLIT, Sample, load_tiles

DEFAULT_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
RESULTS = Path(__file__).resolve().parent / "results" / "landcover_accuracy.json"
ZERO_SHOT_TO_CLASS = {
    "built-up": 0,
    "road": 1,
    "water": 2,
    "vegetation": 3,
    "farmland": 3,
    "bare land": 4,
}
CELL, CONTEXT = 64, 32
SPEED_SIDE = 2048
SPLITS = {"validation tile1": SPLIT["val"], "test tile4": SPLIT["test"]}


def network_file(net: Any) -> str:
    """File name of the ONNX network an opened :class:`LandCoverNetwork` runs."""
    section = net.entry["int8"] if net.entry.get("int8") else net.entry["weights"]
    return str(section["file"])


def network_rows(
    data: Path, samples: list[Sample], tile: int, entry: Path | None = None, name: str = "network"
) -> dict[str, Any]:
    """IoU of the pipeline on the tile's images (with and without ``unknown``).

    ``entry``: a model entry (``landcover.json``) instead of the shipped model;
    ``name``: the rows' name.
    """
    from terrasight.models.onnx_landcover import load_landcover_network
    from terrasight.tasks.landcover import landcover

    net = load_landcover_network(entry, threads=2)
    root = data / "landcover" / "dubai" / f"tile{tile}" / "images"
    conf, conf0 = 0, 0
    pixels, seconds, cpu = 0, 0.0, 0.0
    for s in samples:
        path = root / (s.name.split("/")[1] + ".jpg")
        t0, c0 = time.perf_counter(), time.process_time()
        result = landcover(path, network=net)
        seconds += time.perf_counter() - t0
        cpu += time.process_time() - c0
        pixels += s.labels.size
        conf = conf + confusion(result.classes, s.labels)
        result0 = landcover(path, network=net, options={"threshold": 0.0})
        conf0 = conf0 + confusion(result0.classes, s.labels)
    names = CLASSES[:N_CLASSES]
    return {
        name: {
            **iou_table(np.asarray(conf), names),
            "unknown_share": round(float(np.asarray(conf)[:, N_CLASSES].sum() / np.sum(conf)), 4),
            "threshold": net.threshold,
            "mpx_per_s": round(pixels / 1e6 / seconds, 3),
            "mpx_per_cpu_s": round(pixels / 1e6 / cpu, 3),
            "file": network_file(net),
        },
        f"{name}, no unknown": iou_table(np.asarray(conf0), names),
    }


def speed_row(image: np.ndarray, entry: Path | None = None, repeats: int = 3) -> dict[str, Any]:
    """Speed of the whole ``landcover()`` call on one 2048 x 2048 px image (best of ``repeats``).

    ``image``: a validation-tile image, reflected out to 2048 px a side.
    """
    import tempfile

    from PIL import Image

    from terrasight.models.onnx_landcover import load_landcover_network
    from terrasight.tasks.landcover import landcover

    net = load_landcover_network(entry, threads=2)
    h, w = image.shape[:2]
    big = np.pad(
        image, ((0, max(0, SPEED_SIDE - h)), (0, max(0, SPEED_SIDE - w)), (0, 0)), "reflect"
    )
    big = big[:SPEED_SIDE, :SPEED_SIDE]
    wall, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speed.png"
        Image.fromarray(big).save(path)
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            landcover(path, network=net)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    mpx = SPEED_SIDE * SPEED_SIDE / 1e6
    return {
        "file": network_file(net),
        "side_px": SPEED_SIDE,
        "mpx_per_s": round(mpx / min(wall), 3),
        "mpx_per_cpu_s": round(mpx / min(cpu), 3),
    }


def zero_shot_classes(
    model: Any, classes: np.ndarray, lookup: np.ndarray, image: np.ndarray
) -> np.ndarray:
    """Per-pixel classes of one image from zero-shot classification of its 64 px cells."""
    from terrasight.tasks.embed import embed_images
    from terrasight.tasks.interpret.facts import class_probabilities

    h, w = image.shape[:2]
    crops, cells = [], []
    for y in range(0, h, CELL):
        for x in range(0, w, CELL):
            y0, x0 = max(0, y - CONTEXT), max(0, x - CONTEXT)
            crops.append(
                np.ascontiguousarray(image[y0 : y + CELL + CONTEXT, x0 : x + CELL + CONTEXT])
            )
            cells.append((y, x))
    probs = class_probabilities(embed_images(crops, model), classes, model)
    out = np.zeros((h, w), np.uint8)
    for (y, x), k in zip(cells, probs.argmax(1), strict=True):
        out[y : y + CELL, x : x + CELL] = lookup[k]
    return out


def zero_shot_row(samples: list[Sample]) -> dict[str, Any]:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.embed import load_model
    from terrasight.tasks.interpret.facts import FactsOptions, class_embeddings

    cache = ModelCache()
    model = load_model("terrasight-vl", cache=cache)
    opts = FactsOptions()
    if set(opts.classes) != set(ZERO_SHOT_TO_CLASS):
        raise SystemExit(f"the facts' classes changed: {list(opts.classes)}; update the mapping")
    classes = class_embeddings(opts, model, cache)
    lookup = np.array([ZERO_SHOT_TO_CLASS[name] for name in opts.classes], np.uint8)
    conf = sum(
        confusion(zero_shot_classes(model, classes, lookup, s.image), s.labels) for s in samples
    )
    return {"zero-shot cells": iou_table(np.asarray(conf), CLASSES[:N_CLASSES])}


def print_table(results: dict[str, Any]) -> None:
    names = [*CLASSES[:N_CLASSES], "mean_iou"]
    print(f"{'split':17s} {'method':22s} " + " ".join(f"{n:>10s}" for n in names))
    for split, rows in results["splits"].items():
        for method, row in rows.items():
            cells = " ".join(f"{row.get(n, float('nan')):10.3f}" for n in names)
            print(f"{split:17s} {method:22s} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", choices=["network", "zero-shot", "speed"], default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="A earlier model's entry (landcover.json beside its ONNX file): scored too, "
        "as the 'previous network' rows.",
    )
    args = parser.parse_args()
    if not (args.data / "landcover" / "dubai").is_dir():
        raise SystemExit(f"no land-cover tiles under {args.data}/landcover/dubai")
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("splits", {})
    for split, tiles in SPLITS.items() if args.only != "speed" else ():
        samples = load_tiles(args.data, tiles)
        rows = results["splits"].setdefault(split, {})
        if args.only in (None, "network"):
            rows.update(network_rows(args.data, samples, tiles[0]))
            if args.previous is not None:
                rows.update(
                    network_rows(args.data, samples, tiles[0], args.previous, "previous network")
                )
        if args.only in (None, "zero-shot"):
            rows.update(zero_shot_row(samples))
    if args.only in (None, "network", "speed"):
        image = load_tiles(args.data, SPLIT["val"])[0].image
        results["speed"] = {"network": speed_row(image)}
        if args.previous is not None:
            results["speed"]["previous network"] = speed_row(image, args.previous)
    results.update(
        {
            "split": "train tiles 3, 6, 7, 8; validation tile 1 (tuned on); test tile 4 (not)",
            "metric": "IoU per class over labelled pixels; unknown counts as a miss",
            "zero_shot": f"{CELL} px cells with {CONTEXT} px context, terrasight-vl, facts' classes",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
            "command": "python benchmarks/landcover_accuracy.py",
            "date": time.strftime("%Y-%m-%d"),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
