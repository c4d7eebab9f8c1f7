"""Writing a change result: the rasters copied, ``changes.geojson``, ``summary.json``, the report.

:class:`~terrasight.tasks.change.result.ChangeResult` is plain data; this
module turns it into files. It needs ``result.py`` for type hints only, so the
result can offer ``save()`` as a shortcut without an import cycle.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.io.vectors import VectorFeature, features_to_geojson, jsonable
from terrasight.tasks.change.names import OUTPUT_NAMES

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject, ChangeResult


def object_feature(obj: ChangeObject) -> VectorFeature:
    """A change object as a vector feature: its geometry and its attributes as properties.

    Example:
        >>> object_feature(result.objects[0]).properties["bbox_wgs84"]  # doctest: +SKIP
        (15.0, 45.14, 15.01, 45.15)
    """
    return VectorFeature(obj.geometry, obj.to_dict(), id=obj.id)


def result_geojson(result: ChangeResult) -> dict[str, Any]:
    """The result's objects as an RFC 7946 FeatureCollection in WGS84 (pixel space without a CRS).

    Each feature's properties are the object's attributes
    (:class:`~terrasight.tasks.change.result.ChangeObject`); the collection's
    ``"terrasight:image_crs"`` names the CRS of those ending in ``_image_crs``.

    Example:
        >>> fc = result_geojson(result)  # doctest: +SKIP
        >>> fc["features"][0]["properties"]["centroid_lonlat"]  # doctest: +SKIP
        [15.004, 45.151]
    """
    return features_to_geojson([object_feature(o) for o in result.objects], result.crs)


def save_result(result: ChangeResult, outdir: str | Path, report: bool = True) -> dict[str, Path]:
    """Write the five outputs of ``result`` into ``outdir`` and return their paths by kind.

    ``change_mask.tif`` and ``change_probability.tif`` (copied unless already
    there), ``changes.geojson`` (WGS84), ``summary.json`` and, with ``report``,
    ``report.html``. Each JSON file is written to a ``.part`` file first, then
    renamed.

    Example:
        >>> paths = save_result(result, "changes/")  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['geojson', 'mask', 'probability', 'report', 'summary']
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / v for k, v in OUTPUT_NAMES.items()}
    for kind, src in (("mask", result.mask_path), ("probability", result.probability_path)):
        if Path(src).resolve() != paths[kind].resolve():
            shutil.copyfile(src, paths[kind])
    write_json(paths["geojson"], result_geojson(result))
    write_json(paths["summary"], result.summary())
    if report:
        from terrasight.tasks.change.report import write_report

        write_report(result, paths["report"])
    else:
        paths.pop("report")
    return paths


def write_json(path: Path, data: Any) -> Path:
    """Write JSON-ready ``data`` (NaN as null) to ``path`` atomically, indented.

    Example:
        >>> write_json(Path("out/summary.json"), {"changed": 3})  # doctest: +SKIP
        PosixPath('out/summary.json')
    """
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False))
    tmp.replace(path)
    return path
