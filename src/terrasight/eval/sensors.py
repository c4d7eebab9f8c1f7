"""Labelled change pairs of other sensors, written as GeoTIFFs that ``detect_changes`` reads.

- :func:`nanjing_pair`: the Nanjing Landsat-5 TM pair (Wu, Du and Zhang 2014):
  two 6-band ENVI files (TM 1-5 and 7, 30 m, UTM 50N) and two label images,
  ``change.bmp`` (changed) and ``unchanged.bmp`` (reliably unchanged); pixels in
  neither are unlabelled. The band descriptions and wavelengths are kept.
- :func:`sar_pair`: the Bern (ERS-2) and Sulzberger (ENVISAT) SAR pairs: 8-bit
  BMP amplitude images without georeferencing (three equal grey channels),
  ``<name>_gt.bmp`` 255 = change. Written as one-band GeoTIFFs with no band
  description, as a user's file would come.
- :func:`oscd_pair`: one city of the Onera Satellite Change Detection set
  (Sentinel-2, one GeoTIFF per band and date); the chosen bands are stacked to
  one GeoTIFF per date, each band described by its name (``B02`` ...). The label
  ``cm/<city>-cm.tif`` holds 1 = no change, 2 = change.

Every loader returns a :class:`LabelledPair` whose ``truth`` GeoTIFF holds 1 =
change, 0 = no change, 255 = unlabelled, on the before image's grid;
:func:`score_mask` scores a change mask on the labelled pixels.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from terrasight.errors import DatasetLayoutError
from terrasight.eval.metrics import ConfusionMatrix, scores

UNLABELLED = 255
"""Value of unlabelled pixels in a truth GeoTIFF."""
OSCD_BANDS = ("B02", "B03", "B04", "B08")
"""The four 10 m Sentinel-2 bands (blue, green, red, near infrared)."""
SAR_PAIRS = ("bern", "sulzberger")
NANJING_DATES = ("LT51200382000124BJC00_Nanjing", "LT51200382002193BJC00_Nanjing")


@dataclass(frozen=True)
class LabelledPair:
    """A pair of GeoTIFFs and its truth (1 change, 0 no change, 255 unlabelled).

    Example:
        >>> pair = sar_pair("data/change/sar", "bern", "work/")  # doctest: +SKIP
        >>> pair.before.name, pair.truth.name  # doctest: +SKIP
        ('before.tif', 'truth.tif')
    """

    name: str
    before: Path
    after: Path
    truth: Path

    def read_truth(self) -> np.ndarray:
        """The truth as uint8 ``(h, w)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(self.truth) as ds:
                return ds.read(1)


def _read(path: Path) -> tuple[np.ndarray, dict[str, Any], list[str | None], list[dict]]:
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: file not found; see ../shared/data/README.md.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            profile = {"crs": ds.crs, "transform": ds.transform} if ds.crs else {}
            tags = [ds.tags(i) for i in range(1, ds.count + 1)]
            return ds.read(), profile, list(ds.descriptions), tags


def _write(
    path: Path,
    data: np.ndarray,
    profile: dict[str, Any],
    descriptions: Sequence[str | None] = (),
    tags: Sequence[dict] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = data if data.ndim == 3 else data[None]
    meta = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", dtype=data.dtype, **meta, **profile) as ds:
            ds.write(data)
            for i, text in enumerate(descriptions, start=1):
                if text:
                    ds.set_band_description(i, text)
            for i, band_tags in enumerate(tags, start=1):
                if band_tags:
                    ds.update_tags(i, **band_tags)
    return path


def nanjing_pair(root: str | Path, workdir: str | Path) -> LabelledPair:
    """The Nanjing Landsat TM pair as GeoTIFFs in ``workdir`` (bands, wavelengths and grid kept).

    Args:
        root: the folder ``change/landsat/nanjing`` of the shared data.
        workdir: where ``before.tif``, ``after.tif`` and ``truth.tif`` are written.

    Raises:
        DatasetLayoutError: a file is missing, or the labels overlap or do not fit the images.

    Example:
        >>> pair = nanjing_pair("../shared/data/change/landsat/nanjing", "work")  # doctest: +SKIP
        >>> int((pair.read_truth() == 1).sum()) > 0  # doctest: +SKIP
        True
    """
    root, work = Path(root), Path(workdir)
    paths = []
    shape = None
    for role, stem in zip(("before", "after"), NANJING_DATES, strict=True):
        data, profile, names, tags = _read(root / stem)
        shape = data.shape[1:]
        paths.append(_write(work / f"{role}.tif", data, profile, names, tags))
    changed = _read(root / "change.bmp")[0][0] > 0
    unchanged = _read(root / "unchanged.bmp")[0][0] > 0
    if changed.shape != shape or unchanged.shape != shape:
        raise DatasetLayoutError(f"{root}: the labels are {changed.shape}, the images {shape}.")
    if (changed & unchanged).any():
        raise DatasetLayoutError(f"{root}: change.bmp and unchanged.bmp overlap.")
    truth = np.full(changed.shape, UNLABELLED, np.uint8)
    truth[unchanged], truth[changed] = 0, 1
    profile = _read(paths[0])[1]
    return LabelledPair("nanjing", paths[0], paths[1], _write(work / "truth.tif", truth, profile))


def sar_pair(root: str | Path, name: str, workdir: str | Path) -> LabelledPair:
    """A SAR pair (``bern`` or ``sulzberger``) as one-band uint8 GeoTIFFs with no description.

    Args:
        root: the folder ``change/sar`` of the shared data.
        name: the pair's folder (``<name>_1.bmp``, ``<name>_2.bmp``, ``<name>_gt.bmp``).
        workdir: where ``before.tif``, ``after.tif`` and ``truth.tif`` are written.

    Example:
        >>> pair = sar_pair("../shared/data/change/sar", "bern", "work")  # doctest: +SKIP
        >>> pair.read_truth().shape  # doctest: +SKIP
        (301, 301)
    """
    folder, work = Path(root) / name, Path(workdir)
    before = _read(folder / f"{name}_1.bmp")[0][0]
    after = _read(folder / f"{name}_2.bmp")[0][0]
    truth = (_read(folder / f"{name}_gt.bmp")[0][0] > 127).astype(np.uint8)
    if not before.shape == after.shape == truth.shape:
        raise DatasetLayoutError(
            f"{folder}: the images and the truth differ in size "
            f"({before.shape}, {after.shape}, {truth.shape})."
        )
    return LabelledPair(
        name,
        _write(work / "before.tif", before, {}),
        _write(work / "after.tif", after, {}),
        _write(work / "truth.tif", truth, {}),
    )


def oscd_pair(
    root: str | Path, city: str, workdir: str | Path, bands: Sequence[str] = OSCD_BANDS
) -> LabelledPair:
    """One OSCD city as two stacked GeoTIFFs (``bands`` in order, described by name) and its truth.

    Args:
        root: the folder ``change/oscd`` of the shared data.
        city: a city folder (``paris``, ``beirut``...).
        workdir: where ``before.tif``, ``after.tif`` and ``truth.tif`` are written.
        bands: Sentinel-2 band names; the 10 m ones share one grid.

    Raises:
        DatasetLayoutError: a band file is missing, or the bands or label differ in size.

    Example:
        >>> pair = oscd_pair("../shared/data/change/oscd", "paris", "work")  # doctest: +SKIP
        >>> pair.name  # doctest: +SKIP
        'paris'
    """
    folder, work = Path(root) / city, Path(workdir)
    paths, grids = [], []
    for role, sub in (("before", "imgs_1"), ("after", "imgs_2")):
        layers: list[np.ndarray] = []
        profile: dict[str, Any] = {}
        for band in bands:
            found = sorted((folder / sub).glob(f"*_{band}.tif"))
            if not found:
                raise DatasetLayoutError(f"{folder / sub}: no file *_{band}.tif.")
            data, prof, _, _ = _read(found[0])
            profile = profile or prof
            layers.append(data[0])
        if len({layer.shape for layer in layers}) != 1:
            raise DatasetLayoutError(f"{folder / sub}: bands {list(bands)} differ in size.")
        grids.append((layers[0].shape, profile))
        paths.append(_write(work / f"{role}.tif", np.stack(layers), profile, list(bands)))
    # The after image may be a few pixels smaller (saclay_e); detect_changes puts it
    # on the before grid, which the label shares.
    (shape, profile) = grids[0]
    label = _read(folder / "cm" / f"{city}-cm.tif")[0][0]
    if label.shape != shape:
        raise DatasetLayoutError(f"{folder}: the label is {label.shape}, the before image {shape}.")
    truth = np.where(label == 2, 1, np.where(label == 1, 0, UNLABELLED)).astype(np.uint8)
    return LabelledPair(city, paths[0], paths[1], _write(work / "truth.tif", truth, profile))


def oscd_cities(root: str | Path) -> list[str]:
    """The OSCD city folders under ``root`` (those with a ``cm/<city>-cm.tif`` label), sorted.

    Example:
        >>> oscd_cities("../shared/data/change/oscd")[:2]  # doctest: +SKIP
        ['aguasclaras', 'beirut']
    """
    root = Path(root)
    return sorted(d.name for d in root.iterdir() if (d / "cm" / f"{d.name}-cm.tif").is_file())


def score_mask(mask: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Scores of a change mask (1 change; 0 and 255 not) on the labelled pixels of ``truth``.

    Kappa, F1 and the others come from :func:`terrasight.eval.metrics.scores`;
    ``changed_share`` and ``truth_share`` are the changed shares of the labelled
    pixels in the mask and in the truth.

    Example:
        >>> truth = np.array([1, 0, 255, 0])
        >>> s = score_mask(np.array([1, 1, 1, 0]), truth)
        >>> s["tp"], s["fp"], s["changed_share"], round(s["truth_share"], 3)
        (1, 1, 0.6666666666666666, 0.333)
    """
    labelled = truth != UNLABELLED
    cm = ConfusionMatrix.from_arrays(mask == 1, truth == 1, labelled)
    n = max(cm.total, 1)
    return {
        **cm.to_dict(),
        **scores(cm),
        "changed_share": (cm.tp + cm.fp) / n,
        "truth_share": (cm.tp + cm.fn) / n,
    }
