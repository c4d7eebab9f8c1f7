"""Score change detection on a labelled dataset: per pair and pooled over all pixels.

For each pair, :func:`~terrasight.tasks.change.pipeline.detect.detect_changes` runs on
the before and after images (cropped first, into temporary GeoTIFFs, when the
protocol evaluates a window only); its binary mask is compared with the truth
(non-zero = change) on every pixel the mask gives an answer for (255, no data,
is left out), and the confusion matrices are summed over the dataset. Dataset
tiles are small (hundreds to a few thousand pixels a side), so each pair's mask
and truth are read whole.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from terrasight.errors import DatasetLayoutError
from terrasight.eval.datasets import ChangePair, iter_pairs
from terrasight.eval.metrics import SCORE_NAMES, ConfusionMatrix, scores
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.change.result import MASK_NODATA, ChangeResult

DEFAULT_CROPS = {"airchange": "test", "levir": None}
"""The crop each layout's usual protocol evaluates on (``crop="auto"``)."""


@dataclass(frozen=True)
class PairScore:
    """How one pair went: its confusion matrix, object count and run time."""

    name: str
    confusion: ConfusionMatrix
    objects: int
    seconds: float

    @property
    def scores(self) -> dict[str, float]:
        return scores(self.confusion)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, counts, scores, objects, seconds."""
        return {
            "name": self.name,
            **self.confusion.to_dict(),
            **self.scores,
            "objects": self.objects,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class EvalReport:
    """Scores of one method on one dataset: per pair, and pooled over all pixels."""

    dataset: str
    layout: str
    method: str
    crop: str | None
    split: str | None
    pairs: tuple[PairScore, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def pooled(self) -> ConfusionMatrix:
        """The confusion matrix summed over every pair."""
        return sum((p.confusion for p in self.pairs), ConfusionMatrix())

    @property
    def scores(self) -> dict[str, float]:
        """Scores of the pooled confusion matrix."""
        return scores(self.pooled)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, pooled counts and scores, mean per-pair F1, the pairs."""
        f1s = [p.scores["f1"] for p in self.pairs]
        return {
            "dataset": self.dataset,
            "layout": self.layout,
            "method": self.method,
            "crop": self.crop,
            "split": self.split,
            "options": _jsonable(self.options),
            "pooled": {**self.pooled.to_dict(), **self.scores},
            "mean_pair_f1": float(np.mean(f1s)) if f1s else 0.0,
            "pairs": [p.to_dict() for p in self.pairs],
        }

    def table(self) -> str:
        """A plain-text table: one row per pair, then the pooled row.

        Example:
            >>> print(report.table())  # doctest: +SKIP
            pair          precision recall     f1    iou     oa  kappa  objects
            Szada/1           0.412  0.633  0.499  0.333  0.912  0.452       57
        """
        width = max([len(p.name) for p in self.pairs] + [len("pooled"), 4])
        head = f"{'pair':<{width}} " + " ".join(f"{h:>9}" for h in _HEADS) + f" {'objects':>8}"
        lines = [head]
        for p in self.pairs:
            lines.append(_line(p.name, p.scores, width) + f" {p.objects:>8}")
        lines.append("-" * len(head))
        total = sum(p.objects for p in self.pairs)
        lines.append(_line("pooled", self.scores, width) + f" {total:>8}")
        return "\n".join(lines)


_HEADS = ("precision", "recall", "f1", "iou", "oa", "kappa")


def _line(name: str, values: dict[str, float], width: int) -> str:
    return f"{name:<{width}} " + " ".join(f"{values[k]:>9.3f}" for k in SCORE_NAMES)


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
        for k, v in options.items()
        if not callable(v)
    }


def evaluate_change(
    dataset_dir: str | Path,
    layout: str,
    method: str = "auto",
    crop: str | None = "auto",
    split: str | None = None,
    on_pair: Callable[[PairScore], None] | None = None,
    **detect_kwargs: Any,
) -> EvalReport:
    """Run change detection on every pair of a dataset and score it against the truth.

    Args:
        dataset_dir: the dataset folder (see :mod:`terrasight.eval.datasets`).
        layout: ``"levir"`` or ``"airchange"``.
        method: a change method name.
        crop: ``"auto"`` (the layout's protocol: AirChange ``"test"``, LEVIR whole
            images), ``"test"``, ``"train"`` or None (whole images).
        split: LEVIR split sub-folder, e.g. ``"test"``.
        on_pair: called with each pair's score as soon as it is done.
        **detect_kwargs: passed to ``detect_changes`` (``min_pixels``, ``bands``...).

    Raises:
        DatasetLayoutError: the folder does not have the layout, or a truth mask
            does not match its images in size.

    Example:
        >>> report = evaluate_change("data/airchange", "airchange")  # doctest: +SKIP
        >>> round(report.scores["f1"], 3)  # doctest: +SKIP
        >>> print(report.table())  # doctest: +SKIP
    """
    if crop == "auto":
        crop = DEFAULT_CROPS.get(layout)
    pairs = list(iter_pairs(dataset_dir, layout, crop, split))
    results = []
    with tempfile.TemporaryDirectory(prefix="terrasight-eval-") as tmp:
        for i, pair in enumerate(pairs):
            workdir = Path(tmp) / f"pair{i:04d}"
            score = evaluate_pair(pair, workdir, method, **detect_kwargs)
            shutil.rmtree(workdir, ignore_errors=True)  # keeps disk use to one pair
            results.append(score)
            if on_pair is not None:
                on_pair(score)
    return EvalReport(
        str(dataset_dir), layout, method, crop, split, tuple(results), dict(detect_kwargs)
    )


def evaluate_pair(
    pair: ChangePair, workdir: Path, method: str = "auto", **detect_kwargs: Any
) -> PairScore:
    """Detect changes on one pair (cropped to its window) and count it against the truth.

    Args:
        pair: the pair; its ``window`` is cropped, its ``exclude`` window left out.
        workdir: a folder for the cropped inputs and the outputs (created).
        method: a change method name.
        **detect_kwargs: passed to ``detect_changes``.

    Example:
        >>> pair = list_pairs("airchange", "airchange", crop="test")[0]  # doctest: +SKIP
        >>> evaluate_pair(pair, Path("tmp/p0")).scores["f1"]  # doctest: +SKIP
    """
    workdir.mkdir(parents=True, exist_ok=True)
    before, after = prepare_inputs(pair, workdir)
    start = time.perf_counter()
    kwargs = {"progress": False, **detect_kwargs}
    result = detect_changes(before, after, method, outdir=workdir / "out", **kwargs)
    seconds = time.perf_counter() - start
    return PairScore(pair.name, score_result(pair, result), len(result.objects), seconds)


def prepare_inputs(pair: ChangePair, workdir: Path) -> tuple[Path, Path]:
    """The before and after files to run on: the originals, or crops to ``pair.window``.

    Crops are GeoTIFFs keeping the source's CRS, transform (shifted to the
    window), band descriptions and colour interpretation.

    Example:
        >>> prepare_inputs(pair, Path("tmp"))  # doctest: +SKIP
        (PosixPath('tmp/before.tif'), PosixPath('tmp/after.tif'))
    """
    if pair.window is None:
        return pair.before, pair.after
    workdir.mkdir(parents=True, exist_ok=True)
    return (
        crop_raster(pair.before, pair.window, workdir / "before.tif", pair.name),
        crop_raster(pair.after, pair.window, workdir / "after.tif", pair.name),
    )


def crop_raster(
    src_path: Path, window: tuple[int, int, int, int], dst: Path, name: str = ""
) -> Path:
    """Write ``window`` (col_off, row_off, width, height) of a raster as a GeoTIFF.

    Raises:
        DatasetLayoutError: the image is smaller than the window.

    Example:
        >>> crop_raster(Path("im1.png"), (0, 0, 784, 448), Path("before.tif"))  # doctest: +SKIP
    """
    win = Window(*window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(src_path) as src:
            _check_fits(src, window, src_path, name)
            data = src.read(window=win)
            profile = dict(
                driver="GTiff",
                width=window[2],
                height=window[3],
                count=src.count,
                dtype=src.dtypes[0],
                nodata=src.nodata,
            )
            if src.crs:
                profile.update(crs=src.crs, transform=window_transform(win, src.transform))
            with rasterio.open(dst, "w", **profile) as out:
                out.write(data)
                out.colorinterp = src.colorinterp
                for i, desc in enumerate(src.descriptions, start=1):
                    if desc:
                        out.set_band_description(i, desc)
    return dst


def _check_fits(src, window: tuple[int, int, int, int], path: Path, name: str) -> None:
    col, row, w, h = window
    if col + w > src.width or row + h > src.height:
        raise DatasetLayoutError(
            f"pair {name or path.parent}: {path} is {src.width}x{src.height} px, smaller than "
            f"the evaluation window {w}x{h} at ({col}, {row})."
        )


def score_result(pair: ChangePair, result: ChangeResult) -> ConfusionMatrix:
    """Count the result's mask against the pair's truth (255 and ``pair.exclude`` left out).

    Raises:
        DatasetLayoutError: the truth does not cover the result's grid.
    """
    with rasterio.open(result.mask_path) as ds:
        mask = ds.read(1)
    truth = read_truth(pair, result)
    valid = mask != MASK_NODATA
    if pair.exclude is not None:
        col, row, w, h = pair.exclude
        c0, r0 = col - result.region[0], row - result.region[1]
        valid[max(r0, 0) : max(r0 + h, 0), max(c0, 0) : max(c0 + w, 0)] = False
    return ConfusionMatrix.from_arrays(mask == 1, truth, valid)


def read_truth(pair: ChangePair, result: ChangeResult) -> np.ndarray:
    """The truth (bool, non-zero in any band = change) on the result's output grid."""
    col0, row0 = pair.window[:2] if pair.window else (0, 0)
    col, row, w, h = result.region if result.region[2] else (0, 0, result.width, result.height)
    win = Window(col0 + col, row0 + row, w, h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(pair.truth) as ds:
            if win.col_off + w > ds.width or win.row_off + h > ds.height:
                raise DatasetLayoutError(
                    f"pair {pair.name}: truth {pair.truth} is {ds.width}x{ds.height} px and does "
                    f"not cover the {w}x{h} px result at ({win.col_off}, {win.row_off}); the "
                    "truth must have the size of the images."
                )
            return (ds.read(window=win) != 0).any(axis=0)
