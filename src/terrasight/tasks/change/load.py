"""Open a change result written earlier: a folder from ``terrasight change -o DIR`` or ``save()``.

Questions, captions and the agent reuse a finished job instead of detecting
again: :func:`load_result` rebuilds the :class:`ChangeResult` from the folder's
``summary.json``, its rasters and its objects (``change_objects.jsonl`` when the
job ran there, else the object records of ``summary.json`` and the geometries of
``changes.geojson``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from terrasight.errors import InvalidOptionError
from terrasight.io.box_copy import COPY_DIR
from terrasight.tasks.change.names import OUTPUT_NAMES, STORE_NAME
from terrasight.tasks.change.result import ChangeObject, ChangeResult
from terrasight.tasks.change.store import ObjectsView, record_object

_REQUIRED = ("summary", "mask", "probability")


def is_result_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a saved change result.

    Example:
        >>> is_result_folder("/nonexistent")
        False
    """
    folder = Path(path)
    return folder.is_dir() and all((folder / OUTPUT_NAMES[k]).is_file() for k in _REQUIRED)


def load_result(folder: str | Path) -> ChangeResult:
    """The :class:`ChangeResult` saved in ``folder``, without running anything again.

    Raises:
        InvalidOptionError: the folder is missing, is not a change result, or its
            ``summary.json`` is damaged or was written by an older version.

    Example:
        >>> result = load_result("changes/")  # doctest: +SKIP
        >>> result.changed_fraction, len(result.objects)  # doctest: +SKIP
        (0.031, 42)
    """
    path = Path(folder)
    if not is_result_folder(path):
        missing = [OUTPUT_NAMES[k] for k in _REQUIRED if not (path / OUTPUT_NAMES[k]).is_file()]
        raise InvalidOptionError(
            f"{path} is not a change result folder (missing {', '.join(missing)}); "
            "give the folder written by 'terrasight change -o DIR'."
        )
    summary = _read_summary(path / OUTPUT_NAMES["summary"])
    try:
        return ChangeResult(
            method=summary["method"],
            before=summary["before"],
            after=summary["after"],
            crs=summary["crs"],
            transform=tuple(summary["transform"]),
            width=int(summary["width"]),
            height=int(summary["height"]),
            mask_path=path / OUTPUT_NAMES["mask"],
            probability_path=path / OUTPUT_NAMES["probability"],
            objects=_objects(path, summary),
            valid_pixels=int(summary["valid_pixels"]),
            changed_pixels=int(summary["changed_pixels"]),
            cloud_pixels=int(summary.get("cloud_pixels") or 0),
            cloud_check=str(summary.get("cloud_check", "")).replace("not recorded", ""),
            pixel_area=float(summary["pixel_area"]),
            area_unit=summary["area_unit"],
            band_names=tuple(summary.get("bands", ())),
            bands=tuple(summary.get("band_numbers", ())),
            after_bands=tuple(summary.get("after_band_numbers", ())),
            region=tuple(summary.get("region", (0, 0, 0, 0))),
            nodata=summary.get("nodata"),
            resampling=summary.get("resampling", "bilinear"),
            params=summary.get("params", {}),
            warnings=tuple(summary.get("warnings", ())),
            quality_issues=tuple(summary.get("quality_issues", ())),
            method_choice=summary.get("method_choice"),
            local_inputs=_local_inputs(path, summary),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidOptionError(
            f"{path / OUTPUT_NAMES['summary']} lacks what a result needs ({exc}); it was "
            "written by an older version or edited. Run 'terrasight change' again."
        ) from None


def _local_inputs(folder: Path, summary: dict[str, Any]) -> tuple[str, str] | tuple[()]:
    """The local copies of remote inputs the summary names, found in ``folder`` when the
    folder has moved since (they live in its ``.terrasight-inputs``)."""
    saved = summary.get("local_inputs") or ()
    if len(saved) != 2:
        return ()
    found = []
    for name in saved:
        copy = Path(name)
        if COPY_DIR in copy.parts and not copy.is_file():
            moved = folder.joinpath(*copy.parts[copy.parts.index(COPY_DIR) :])
            copy = moved if moved.is_file() else copy
        found.append(str(copy))
    return found[0], found[1]


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOptionError(
            f"{path} cannot be read as JSON ({exc}); run 'terrasight change' again."
        ) from None
    if not isinstance(data, dict):
        raise InvalidOptionError(f"{path} is not a change summary (not a JSON object).")
    return data


def _objects(folder: Path, summary: dict[str, Any]) -> ObjectsView | tuple[ChangeObject, ...]:
    """The job's object store when it is there, else summary records with GeoJSON geometries."""
    store = folder / STORE_NAME
    if store.is_file():
        view = ObjectsView.open(store)
        if len(view) == summary.get("object_count", len(view)):
            return view
    geometries = _geojson_geometries(folder / OUTPUT_NAMES["geojson"])
    objects = []
    for record in summary.get("objects", []):
        values = dict(record)
        values["geometry"] = geometries.get(values["id"], {"type": "Polygon", "coordinates": []})
        if values.get("mean_probability") is None:
            values["mean_probability"] = math.nan
        objects.append(record_object(values))
    return tuple(objects)


def _geojson_geometries(path: Path) -> dict[int, dict[str, Any]]:
    """Geometries of ``changes.geojson`` by object id (WGS84 there; used for shape only)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {f.get("id"): f.get("geometry") or {} for f in data.get("features", [])}
