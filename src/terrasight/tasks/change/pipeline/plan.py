"""What one change job works with, checked, and the pieces built from it.

:class:`Plan` holds the opened pair, the method, the job's options and the
method's typed options; :func:`job_signature` says what makes two runs the
same job, :func:`build_result` assembles the :class:`ChangeResult`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError
from terrasight.io.pair import RasterPair
from terrasight.io.vectors import pixel_area
from terrasight.tasks.change.methods.base import MethodChoice, MethodOptions, MethodSpec
from terrasight.tasks.change.pipeline.job import file_identity
from terrasight.tasks.change.pipeline.options import ChangeOptions
from terrasight.tasks.change.pipeline.tiles import Progress
from terrasight.tasks.change.result import ChangeObject, ChangeResult

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache


@dataclass(frozen=True)
class Plan:
    """What one run works with, checked: the pair, the method, the options, a model cache."""

    pair: RasterPair
    spec: MethodSpec
    opts: ChangeOptions
    method_options: MethodOptions
    cache: ModelCache | None = None
    choice: MethodChoice | None = None
    """How ``method="auto"`` chose the method (None when it was named)."""


def method_options_for(spec: MethodSpec, given: Mapping[str, Any] | MethodOptions) -> MethodOptions:
    """The method's typed options from a mapping, or ``given`` when it already is one.

    Raises:
        InvalidOptionError: an unknown option or a bad value, or options of another method.

    Example:
        >>> from terrasight.tasks.change.methods.registry import get_method
        >>> opts = method_options_for(get_method("cva"), {"tolerance": "2"})
        >>> type(opts).__name__, opts.tolerance
        ('CVAOptions', 2)
    """
    if isinstance(given, MethodOptions):
        if not isinstance(given, spec.options):
            raise InvalidOptionError(
                f"method_options is a {type(given).__name__}, but change method {spec.name!r} "
                f"takes a {spec.options.__name__} (or a mapping of option names to values)."
            )
        return given
    return spec.parse_options(given)


def job_signature(plan: Plan) -> dict[str, Any]:
    """What makes two runs the same job (where it runs does not), in its JSON form.

    Example:
        >>> job_signature(plan)["method_options"]  # doctest: +SKIP
        {'tolerance': 1}
    """
    pair, opts = plan.pair, plan.opts
    skip = ("workers", "scheduler", "method_options")
    signature = {
        "before": file_identity(pair.before.path),
        "after": file_identity(pair.after.path),
        "bands": list(pair.before.bands),
        "after_bands": list(pair.after.bands),
        "method": plan.spec.name,
        "options": {f.name: getattr(opts, f.name) for f in fields(opts) if f.name not in skip},
        "method_options": plan.method_options.to_dict(),
    }
    # The journal holds JSON: compare in that form (tuples become lists).
    return json.loads(json.dumps(signature))


def build_result(
    plan: Plan,
    fitted: dict[str, Any],
    final: dict[str, Path],
    objects: Sequence[ChangeObject],
    changed: int,
    counts: dict[str, int],
    notes: list[str],
    quality_issues: tuple[str, ...] = (),
    cloud_check: str = "",
) -> ChangeResult:
    """The result of a finished job: its rasters ``final``, objects, counts, notes and
    what makes it unreliable.

    Example:
        >>> build_result(plan, params, paths, objects, 120, counts, [])  # doctest: +SKIP
    """
    pair = plan.pair
    area, unit = pixel_area(pair.before.crs, pair.transform)
    return ChangeResult(
        method=plan.spec.name,
        before=str(pair.before.given),
        after=str(pair.after.given),
        crs=pair.before.crs.to_wkt() if pair.before.crs else None,
        transform=tuple(pair.transform)[:6],
        width=int(pair.region.width),
        height=int(pair.region.height),
        mask_path=final["mask"],
        probability_path=final["probability"],
        objects=objects,
        valid_pixels=counts["valid"],
        changed_pixels=changed,
        cloud_pixels=counts["cloud"],
        pixel_area=area,
        area_unit=unit,
        band_names=pair.band_names,
        bands=pair.before.bands,
        after_bands=pair.after.bands,
        region=_region(pair),
        nodata=plan.opts.nodata,
        resampling=plan.opts.resampling,
        params=fitted,
        warnings=tuple(pair.warnings) + tuple(notes),
        quality_issues=quality_issues,
        cloud_check=cloud_check,
        method_choice=plan.choice.to_dict() if plan.choice else None,
        local_inputs=_made_files(pair),
    )


def _made_files(pair: RasterPair) -> tuple[str, str] | tuple[()]:
    """The files read, when one was made from the input given (a whole download of a URL,
    a STAC Item's VRT): the result names the inputs as given."""
    if pair.before.origin is None and pair.after.origin is None:
        return ()
    return str(pair.before.path), str(pair.after.path)


def progress_callback(progress: bool | Progress, pair: RasterPair) -> Progress | None:
    """The caller's callback, a tqdm bar on stderr for ``True``, or None.

    Example:
        >>> progress_callback(False, pair) is None  # doctest: +SKIP
        True
    """
    if callable(progress):
        return progress
    if not progress:
        return None
    from tqdm import tqdm

    h, w = pair.shape
    bar = tqdm(total=h * w, unit="px", unit_scale=True, desc="change", leave=False)

    def update(n: int, total: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return update


def _region(pair: RasterPair) -> tuple[int, int, int, int]:
    col, row, width, height = (int(v) for v in pair.region.flatten())
    return col, row, width, height
