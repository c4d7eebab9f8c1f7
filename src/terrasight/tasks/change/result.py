"""What change detection returns: :class:`ChangeResult` and its :class:`ChangeObject` s.

Both are plain frozen data. A result refers to its rasters on disk (so a scene
larger than memory stays there) and carries everything an agent or a web
server needs as plain values: ``summary()`` and ``to_geojson()`` are
JSON-ready. Writing files is :mod:`terrasight.tasks.products.save`'s job;
``save()`` is a shortcut to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from affine import Affine

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.interpret.facts import FactsOptions
from terrasight.io.pair import RasterPair, open_pair
from terrasight.tasks.change.names import MASK_NODATA, OUTPUT_NAMES

__all__ = ["MASK_NODATA", "OUTPUT_NAMES", "ChangeObject", "ChangeResult"]


@dataclass(frozen=True)
class ChangeObject:
    """One changed region: a connected group of changed pixels above the size filter.

    Names say their coordinate system: ``*_lonlat`` and ``*_wgs84`` are WGS84
    longitude/latitude (None without an image CRS); ``*_image_crs`` and
    ``geometry`` are in the image CRS, or in pixel (column, row) space when the
    images have none; ``pixel_bbox`` is in pixels of the output grid.

    Attributes:
        id: 1 for the largest object, then by decreasing area.
        pixels: number of pixels.
        area: ground area in ``area_unit`` (``"m2"``, or ``"px"`` without a CRS).
        location: where the object lies in the scene, in words (``"north-west"``).
        mean_probability: mean change probability of its pixels.
        centroid_lonlat: centroid as (longitude, latitude).
        bbox_wgs84: (west, south, east, north) enclosing the object.
        centroid_image_crs: centroid as (x, y) in the image CRS.
        bbox_image_crs: (minx, miny, maxx, maxy) in the image CRS.
        pixel_bbox: (col0, row0, col1, row1), end exclusive.
        geometry: GeoJSON-like Polygon or MultiPolygon in the image CRS.
        from_class, to_class: land cover before and after, the majority of the object's
            own pixels (``terrasight.tasks.semantic``); None where it was not measured.
        from_share, to_share: the share of the object's pixels in that class.
        parent_id: id of the connected change region the object was split from.
    """

    id: int
    pixels: int
    area: float
    area_unit: str
    location: str
    mean_probability: float
    centroid_lonlat: tuple[float, float] | None
    bbox_wgs84: tuple[float, float, float, float] | None
    centroid_image_crs: tuple[float, float]
    bbox_image_crs: tuple[float, float, float, float]
    pixel_bbox: tuple[int, int, int, int]
    geometry: dict[str, Any]
    from_class: str | None = None
    to_class: str | None = None
    from_share: float | None = None
    to_share: float | None = None
    parent_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Attributes without the geometry (a shallow dict: nothing is copied), JSON-ready.

        The land-cover attributes are left out where they were not measured."""
        out = {name: getattr(self, name) for name in _ATTRIBUTES}
        for name in SEMANTIC_ATTRIBUTES:
            if out[name] is None:
                del out[name]
        return out


SEMANTIC_ATTRIBUTES = ("from_class", "to_class", "from_share", "to_share", "parent_id")
"""Attributes set by the semantic step only (absent from ``to_dict`` where None)."""
_ATTRIBUTES = tuple(f.name for f in fields(ChangeObject) if f.name != "geometry")


@dataclass(frozen=True)
class ChangeResult:
    """The answer to "what changed between these two images?".

    Attributes:
        method: the change method used.
        before, after: the input files.
        crs: the output CRS as WKT (``None`` in pixel space).
        transform: affine transform of the output grid (the before grid over the overlap).
        width, height: size of the output grid.
        mask_path: uint8 GeoTIFF, 1 changed, 0 unchanged, 255 no data. When
            ``detect_changes`` ran without ``outdir``, both rasters lie in a
            temporary folder that is removed once this result is garbage-collected:
            :meth:`save` copies them.
        probability_path: float32 GeoTIFF of change probability, NaN where no data.
        objects: the changed regions, largest first: a sequence (``len``, indexing,
            slicing, iteration). A job's objects are an
            :class:`~terrasight.tasks.change.store.ObjectsView` that reads them from
            ``change_objects.jsonl`` beside the rasters when asked, so memory does
            not grow with their number.
        valid_pixels, changed_pixels: pixel counts inside the output grid.
        cloud_pixels: pixels excluded as cloud or cloud shadow (0 where no mask ran: see
            :attr:`cloud_check`).
        cloud_check: ``"checked"`` where a cloud mask ran, else ``"not checked (why)"``
            (``""``: a result saved before this was recorded).
        pixel_area, area_unit: ground area of one pixel (``"m2"``) or 1 ``"px"``.
        params: the fitted method's parameters.
        band_names: common names of the bands compared.
        bands, after_bands: 1-based band numbers read from each file.
        region: ``(col_off, row_off, width, height)`` of the output grid in the before image.
        nodata, resampling: the nodata override and the resampling the pair was read with.
        warnings: things the user should know (no CRS, resampling, clouds...).
        quality_issues: why the result as a whole cannot be trusted (e.g. more than
            half of the grid masked as cloud); empty when none. See :attr:`unreliable`.
        method_choice: how ``method="auto"`` chose :attr:`method` (``requested``,
            ``chosen``, ``kind``, ``reason``), or None when the method was named.
        local_inputs: local copies of remote inputs over the area of interest (in the
            job folder, on the inputs' grids) or of a whole file downloaded from a server
            that sends no parts (in the cache), read instead of :attr:`before` and
            :attr:`after` by the facts and the report; empty when the inputs are read
            themselves. See :attr:`input_paths`.

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
    objects: Sequence[ChangeObject]
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
    cloud_check: str = ""
    quality_issues: tuple[str, ...] = ()
    method_choice: dict[str, Any] | None = None
    local_inputs: tuple[str, str] | tuple[()] = ()

    @property
    def input_paths(self) -> tuple[str, str]:
        """The files to read the inputs' pixels from: :attr:`local_inputs` where those
        copies still exist, else :attr:`before` and :attr:`after`."""
        if self.local_inputs and all(Path(p).is_file() for p in self.local_inputs):
            return self.local_inputs[0], self.local_inputs[1]
        return self.before, self.after

    def open_inputs(self) -> RasterPair:
        """The inputs as the job read them: :attr:`input_paths` with its bands, nodata and
        resampling (the after image on the before grid).

        Raises:
            RasterReadError, PairAlignmentError: an input cannot be read any more.
        """
        return open_pair(
            *self.input_paths,
            bands=self.bands or None,
            after_bands=self.after_bands or None,
            nodata=self.nodata,
            resampling=self.resampling,
        )

    @property
    def unreliable(self) -> bool:
        """True when :attr:`quality_issues` is not empty: "no change" may mean "not seen"."""
        return bool(self.quality_issues)

    @property
    def clouds_checked(self) -> bool:
        """Whether a cloud mask ran: only then is :attr:`cloud_pixels` a cloud statistic."""
        return self.cloud_check == "checked"

    @property
    def other_warnings(self) -> tuple[str, ...]:
        """The warnings that do not restate a quality issue (shown apart, and first)."""
        return tuple(w for w in self.warnings if not any(i in w for i in self.quality_issues))

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
        """A JSON-ready summary: method, counts, areas, objects, warnings.

        It lists every object, so it grows with them; :meth:`save` writes
        ``summary.json`` object by object instead.
        """
        return {
            "method": self.method,
            "method_choice": self.method_choice,
            "before": self.before,
            "after": self.after,
            "crs": self.crs,
            "width": self.width,
            "height": self.height,
            "bands": list(self.band_names),
            "band_numbers": list(self.bands),
            "after_band_numbers": list(self.after_bands),
            "transform": list(self.transform),
            "region": list(self.region),
            "nodata": self.nodata,
            "resampling": self.resampling,
            "area_unit": self.area_unit,
            "pixel_area": self.pixel_area,
            "valid_pixels": self.valid_pixels,
            "changed_pixels": self.changed_pixels,
            "cloud_pixels": self.cloud_pixels if self.clouds_checked else None,
            "cloud_check": self.cloud_check or "not recorded",
            "changed_fraction": round(self.changed_fraction, 6),
            "changed_area": self.changed_area,
            "object_count": len(self.objects),
            "objects": [o.to_dict() for o in self.objects],
            "params": self.params,
            "warnings": list(self.warnings),
            "unreliable": self.unreliable,
            "quality_issues": list(self.quality_issues),
            "local_inputs": list(self.local_inputs),
        }

    def to_geojson(self) -> dict[str, Any]:
        """The objects as an RFC 7946 FeatureCollection in WGS84 (pixel space if no CRS).

        The whole collection is built in memory: fine for small results; for
        large ones :meth:`save` streams ``changes.geojson`` to disk feature by feature.

        Example:
            >>> result.to_geojson()["terrasight:image_crs"]  # doctest: +SKIP
            'EPSG:32633'
        """
        from terrasight.io.vectors import VectorFeature, features_to_geojson

        features = [VectorFeature(o.geometry, o.to_dict(), id=o.id) for o in self.objects]
        return features_to_geojson(features, self.crs)

    def save(
        self,
        outdir: str | Path,
        report: bool = True,
        facts: bool | FactsOptions = True,
        cache: ModelCache | None = None,
        workers: int = 2,
    ) -> dict[str, Path]:
        """Write the outputs into ``outdir`` and return their paths by kind.

        See :func:`terrasight.tasks.products.save.save_result` (``workers``: processes
        writing at the same time, 1 for one after the other). The one import from
        a higher layer kept on purpose (``KEPT_DOORS`` in ``tests/test_architecture.py``):
        this method is public API.

        Example:
            >>> paths = result.save("changes/")  # doctest: +SKIP
            >>> paths["geojson"].name  # doctest: +SKIP
            'changes.geojson'
        """
        from terrasight.tasks.products.save import save_result

        return save_result(self, outdir, report=report, facts=facts, cache=cache, workers=workers)
