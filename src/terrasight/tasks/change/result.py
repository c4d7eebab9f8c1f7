"""What change detection returns: :class:`ChangeResult` and its :class:`ChangeObject` s.

A result refers to its rasters on disk (so a scene larger than memory stays
there) and carries everything an agent or a web server needs as plain values:
``summary()`` and ``to_geojson()`` are JSON-ready.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine

from terrasight.io.vectors import jsonable

MASK_NODATA = 255
"""Value of ``change_mask.tif`` where no answer could be given (nodata, cloud, outside overlap)."""

OUTPUT_NAMES = {
    "mask": "change_mask.tif",
    "probability": "change_probability.tif",
    "geojson": "changes.geojson",
    "summary": "summary.json",
    "report": "report.html",
}


@dataclass(frozen=True)
class ChangeObject:
    """One changed region: a connected group of changed pixels above the size filter.

    Coordinates (``centroid``, ``bbox``, ``geometry``) are in the image CRS, or in
    pixel (column, row) space when the images have none.
    """

    id: int
    pixels: int
    area: float
    area_unit: str
    centroid: tuple[float, float]
    bbox: tuple[float, float, float, float]
    pixel_bbox: tuple[int, int, int, int]
    location: str
    mean_probability: float
    geometry: dict[str, Any]
    centroid_lonlat: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Attributes without the geometry, JSON-ready."""
        d = asdict(self)
        d.pop("geometry")
        return d


@dataclass(frozen=True)
class ChangeResult:
    """The answer to "what changed between these two images?".

    Attributes:
        method: the change method used.
        before, after: the input files.
        crs: the output CRS as WKT (``None`` in pixel space).
        transform: affine transform of the output grid (the before grid over the overlap).
        width, height: size of the output grid.
        mask_path: uint8 GeoTIFF, 1 changed, 0 unchanged, 255 no data.
        probability_path: float32 GeoTIFF of change probability, NaN where no data.
        objects: the changed regions, largest first.
        valid_pixels, changed_pixels: pixel counts inside the output grid.
        cloud_pixels: pixels excluded as cloud or cloud shadow.
        pixel_area, area_unit: ground area of one pixel (``"m2"``) or 1 ``"px"``.
        params: the fitted method's parameters.
        band_names: common names of the bands compared.
        bands, after_bands: 1-based band numbers read from each file.
        region: ``(col_off, row_off, width, height)`` of the output grid in the before image.
        nodata, resampling: the nodata override and the resampling the pair was read with.
        warnings: things the user should know (no CRS, resampling, clouds...).
        quality_issues: why the result as a whole cannot be trusted (e.g. more than
            half of the grid masked as cloud); empty when none. See :attr:`unreliable`.

    Example:
        >>> result = detect_changes("2019.tif", "2024.tif")  # doctest: +SKIP
        >>> len(result.objects), result.changed_area  # doctest: +SKIP
        >>> result.save("out/")  # doctest: +SKIP
    """

    method: str
    before: str
    after: str
    crs: str | None
    transform: tuple[float, ...]
    width: int
    height: int
    mask_path: Path
    probability_path: Path
    objects: tuple[ChangeObject, ...]
    valid_pixels: int
    changed_pixels: int
    cloud_pixels: int
    pixel_area: float
    area_unit: str
    band_names: tuple[str, ...] = ()
    bands: tuple[int, ...] = ()
    after_bands: tuple[int, ...] = ()
    region: tuple[int, int, int, int] = (0, 0, 0, 0)
    nodata: float | None = None
    resampling: str = "bilinear"
    params: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    quality_issues: tuple[str, ...] = ()

    @property
    def unreliable(self) -> bool:
        """True when :attr:`quality_issues` is not empty: "no change" may mean "not seen"."""
        return bool(self.quality_issues)

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform[:6])

    @property
    def changed_area(self) -> float:
        """Total changed area in :attr:`area_unit` (after the size filter)."""
        return self.changed_pixels * self.pixel_area

    @property
    def changed_fraction(self) -> float:
        """Changed share of the valid pixels (0 when none is valid)."""
        return self.changed_pixels / self.valid_pixels if self.valid_pixels else 0.0

    def mask(self) -> np.ndarray:
        """Read the whole mask (uint8: 1 changed, 0 not, 255 no data). Mind the size."""
        with rasterio.open(self.mask_path) as ds:
            return ds.read(1)

    def probability(self) -> np.ndarray:
        """Read the whole probability raster (float32, NaN where no data). Mind the size."""
        with rasterio.open(self.probability_path) as ds:
            return ds.read(1)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: method, counts, areas, objects, warnings."""
        return {
            "method": self.method,
            "before": self.before,
            "after": self.after,
            "crs": self.crs,
            "width": self.width,
            "height": self.height,
            "bands": list(self.band_names),
            "area_unit": self.area_unit,
            "pixel_area": self.pixel_area,
            "valid_pixels": self.valid_pixels,
            "changed_pixels": self.changed_pixels,
            "cloud_pixels": self.cloud_pixels,
            "changed_fraction": round(self.changed_fraction, 6),
            "changed_area": self.changed_area,
            "object_count": len(self.objects),
            "objects": [o.to_dict() for o in self.objects],
            "params": self.params,
            "warnings": list(self.warnings),
            "unreliable": self.unreliable,
            "quality_issues": list(self.quality_issues),
        }

    def to_geojson(self) -> dict[str, Any]:
        """The objects as an RFC 7946 FeatureCollection in WGS84 (pixel space if no CRS)."""
        from terrasight.io.vectors import objects_to_geojson

        return objects_to_geojson(self.objects, self.crs)

    def save(self, outdir: str | Path, report: bool = True) -> dict[str, Path]:
        """Write the five outputs into ``outdir`` and return their paths by kind.

        ``change_mask.tif`` and ``change_probability.tif`` on the before grid,
        ``changes.geojson`` (WGS84), ``summary.json`` and ``report.html``.
        """
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: out / v for k, v in OUTPUT_NAMES.items()}
        for kind, src in (("mask", self.mask_path), ("probability", self.probability_path)):
            if Path(src).resolve() != paths[kind].resolve():
                shutil.copyfile(src, paths[kind])
        _write_json(paths["geojson"], self.to_geojson())
        _write_json(paths["summary"], self.summary())
        if report:
            from terrasight.tasks.change.report import write_report

            write_report(self, paths["report"])
        else:
            paths.pop("report")
        return paths


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False))
    tmp.replace(path)
