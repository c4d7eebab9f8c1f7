"""``classify_changes(result)``: what each changed place was and what it became, per pixel.

Two steps on a finished change result, both in bounded memory:

1. :func:`~terrasight.tasks.semantic.pixels.classify_changed_pixels` runs the
   package's land-cover network on both dates, only on windows holding changed
   pixels, and writes ``change_classes.tif`` beside the mask;
2. :func:`~terrasight.tasks.semantic.objects.recut_objects` splits every change
   object where its classes differ and new or removed buildings into one object
   each, gives each its from -> to classes (majority of its pixels, with
   shares), and, with ``only``, keeps only the changes that involve that class.

The result returned points at the same folder; its objects, the mask (with
``only``) and ``change_classes.json`` (the transition table) are rewritten there.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from terrasight.errors import InvalidOptionError
from terrasight.models.onnx_landcover import LandCoverNetwork, load_landcover_network
from terrasight.models.runtime import ModelCache, cached
from terrasight.tasks.change.methods.base import MethodOptions, option
from terrasight.tasks.change.names import TRANSITIONS_NAME
from terrasight.tasks.change.result import ChangeResult
from terrasight.tasks.landcover.classes import CLASSES, N_CLASSES
from terrasight.tasks.semantic.budget import WindowBudget
from terrasight.tasks.semantic.coverage import Coverage
from terrasight.tasks.semantic.objects import recut_objects
from terrasight.tasks.semantic.partial import (
    CutSettings,
    StoredObjects,
    recut_covered,
    stored_objects,
)
from terrasight.tasks.semantic.pixels import PixelClasses, classify_changed_pixels, window_grid
from terrasight.tasks.semantic.same_cover import (
    CHECKED_CLASSES,
    MIN_SHARE,
    CheckLog,
    CoverCheck,
    check_note,
)
from terrasight.tasks.semantic.split import NECK

log = logging.getLogger(__name__)

ONLY_CLASSES = CLASSES[:N_CLASSES]
"""Classes ``only`` may name: those the land-cover network predicts."""


@dataclass(frozen=True)
class SemanticOptions(MethodOptions):
    """How changes are classified and split; unknown names and values out of range are refused.

    Attributes:
        tile_size, overlap: windows classified and their context (px).
        threshold: class probability below which a pixel is ``unknown`` (the network's
            own if None).
        min_pixels: pieces smaller than this join their nearest neighbour.
        spacing: smallest distance (px) between two building centres split apart.
        smooth: side (px) of the majority filter on each date's classes before splitting.
        threads: ONNX Runtime threads of the land-cover network.
        neck: a building region is split where two parts meet along an edge shorter than
            this many times the thinner part's width (0: one building per region).
        together: 1 to decide unsure and same-class pixels from both dates, 0 for each
            date alone (:mod:`terrasight.tasks.semantic.decide`).
        cut_seen: 1 to cut buildings from the pixels the network called building in the
            date that holds them, 0 from the whole new (or removed) building region.
        check_share: the land-cover check (``landcover_check``) takes a piece of one class
            on both dates when at least this share of its pixels is that class, sure, on
            both dates (:mod:`~terrasight.tasks.semantic.same_cover`).
        check_building: 1 to check ``building -> building`` pieces too.

    Example:
        >>> SemanticOptions.from_mapping({"spacing": "8"}).spacing
        8
    """

    method: ClassVar[str] = ""
    tile_size: int = option(512, low=64, high=8192)
    overlap: int = option(64, low=0, high=512)
    threshold: float | None = option(None, low=0.0, high=1.0)
    min_pixels: int = option(40, low=1, high=1_000_000)
    spacing: int = option(6, low=1, high=1000)
    smooth: int = option(5, low=1, high=101)
    threads: int = option(2, low=1, high=64)
    neck: float = option(NECK, low=0.0, high=100.0)
    together: int = option(1, low=0, high=1)
    cut_seen: int = option(0, low=0, high=1)
    check_share: float = option(MIN_SHARE, low=0.0, high=1.0)
    check_building: int = option(0, low=0, high=1)


def check_only(only: str | None) -> str | None:
    """``only`` checked against the land-cover classes (None passes).

    Raises:
        InvalidOptionError: not one of :data:`ONLY_CLASSES`.

    Example:
        >>> check_only("building"), check_only(None)
        ('building', None)
    """
    if only is None:
        return None
    name = str(only).strip().lower()
    if name not in ONLY_CLASSES:
        raise InvalidOptionError(
            f"only={only!r} is not a land-cover class; choose one of {', '.join(ONLY_CLASSES)}."
        )
    return name


def classify_changes(
    result: ChangeResult,
    *,
    only: str | None = None,
    options: SemanticOptions | dict[str, Any] | None = None,
    network: LandCoverNetwork | None = None,
    budget_s: float | None = None,
    cache: ModelCache | None = None,
    landcover_check: str = "off",
) -> ChangeResult:
    """The result with each change's land cover before and after, and buildings one by one.

    Writes ``change_classes.tif`` (band 1 the class before, band 2 after, on changed
    pixels; 255 elsewhere; class names in its tags) and ``change_classes.json`` (pixels
    and area of each from -> to pair) beside the result's mask, and rewrites its
    objects (``change_objects.jsonl``): each carries ``from_class``, ``to_class``, their
    shares and the ``parent_id`` of the change region it was cut from.

    Args:
        result: a change result whose input images can still be read.
        only: keep only changes from or to this class (``building``, ``road``, ``water``,
            ``vegetation``, ``bare``); the others are cleared from the mask too.
        options: :class:`SemanticOptions` or a dict of them.
        network: an opened land-cover network; the shipped one if None.
        budget_s: seconds the step may take (see :mod:`~terrasight.tasks.semantic.budget`):
            windows beyond it are left without classes, their objects kept whole without
            ``from_class``, and a warning says so. None (the default): every window and
            object, whatever it costs. Ignored with ``only``, which needs every class.
        cache: keeps the opened network for the next call (owned by the caller).
        landcover_check: ``"off"``; ``"flag"`` or ``"drop"`` changes whose land cover is the
            same and sure on both dates (vegetation -> vegetation...): ``drop`` removes them
            from the mask and the objects; both list them in ``cover_unchanged.geojson``
            and count them in ``params["landcover_check"]`` and the warnings
            (:mod:`~terrasight.tasks.semantic.same_cover`).

    Raises:
        InvalidOptionError: ``only`` or an option is not valid.
        BandSelectionError: the images have no red, green and blue.
        ModelWeightsError, MissingDependencyError: the network cannot be loaded.

    Example:
        >>> import terrasight
        >>> result = terrasight.detect_changes("2019.tif", "2024.tif", outdir="out")  # doctest: +SKIP
        >>> result = classify_changes(result, only="building")  # doctest: +SKIP
        >>> sum(o.to_class == "building" for o in result.objects)  # new buildings  # doctest: +SKIP
        12
    """
    name = check_only(only)
    opts = (
        options if isinstance(options, SemanticOptions) else SemanticOptions.from_mapping(options)
    )
    if opts.overlap * 2 >= opts.tile_size:
        raise InvalidOptionError(
            f"overlap {opts.overlap} must be less than half the tile size {opts.tile_size}"
        )
    log_check = _check_log(landcover_check, opts)
    start = time.perf_counter()
    net = network or cached(
        cache,
        ("landcover-network", opts.threads),
        lambda: load_landcover_network(threads=opts.threads),
    )
    budget, stored = _budget(result, opts, budget_s if name is None else None, start)
    pixels = classify_changed_pixels(
        result, net, opts.tile_size, opts.overlap, opts.threshold, budget=budget
    )
    status = Coverage.full(pixels, len(result.objects), result.changed_pixels)
    settings = CutSettings(
        opts.min_pixels, opts.spacing, opts.smooth, opts.neck, bool(opts.together),
        bool(opts.cut_seen),
    )  # fmt: skip
    if budget is not None and not budget.complete and stored is not None:
        recut = recut_covered(
            result, stored, budget.covered, pixels.path, settings, check=log_check
        )
        status = Coverage.partial(pixels, budget, result.changed_pixels, budget_s or 0.0)
    else:
        recut = recut_objects(
            result, pixels.path, opts.min_pixels, opts.spacing, name, opts.smooth,
            neck=opts.neck, together=settings.together, cut_seen=settings.cut_seen,
            check=log_check,
        )  # fmt: skip
    notes = list(pixels.notes)
    if status.note:
        notes.append(status.note)
        log.warning("%s", status.note)
    if name:
        notes.append(
            f"only changes from or to {name} are kept ({recut.dropped} other pieces cleared "
            "from the mask and the objects)."
        )
    params = dict(result.params)
    if log_check is not None:
        folder = Path(result.mask_path).parent
        params["landcover_check"] = log_check.finish(folder, recut.objects, result.crs)
        note = check_note(params["landcover_check"], result.area_unit)
        if note:
            notes.append(note)
    _write_transitions(result, pixels, name, time.perf_counter() - start, status)
    log.info("classified %d of %d windows", pixels.windows, pixels.total_windows)
    return replace(
        result,
        objects=recut.objects,
        changed_pixels=recut.changed_pixels,
        warnings=tuple(result.warnings) + tuple(notes),
        params=params,
    )


def _check_log(mode: str | None, opts: SemanticOptions) -> CheckLog | None:
    """The land-cover check's log (None when it is off)."""
    classes = (*CHECKED_CLASSES, "building") if opts.check_building else CHECKED_CLASSES
    check = CoverCheck.of(mode, opts.check_share, classes)
    return CheckLog(check) if check.active else None


def _budget(
    result: ChangeResult, opts: SemanticOptions, budget_s: float | None, start: float
) -> tuple[WindowBudget | None, StoredObjects | None]:
    """The window budget, less the seconds spent since ``start`` (None: no budget, or
    objects that are not in a file)."""
    if budget_s is None:
        return None, None
    stored = stored_objects(result)
    if stored is None:
        return None, None
    grid = window_grid(result, opts.tile_size, opts.overlap)
    left = float(budget_s) - (time.perf_counter() - start)
    return WindowBudget.of(left, grid, stored.boxes), stored


def transitions_table(pixels: PixelClasses, pixel_area: float) -> list[dict[str, Any]]:
    """``[{"from", "to", "pixels", "area"}]`` of every pair seen, most pixels first
    (``unknown`` for pixels without a class)."""
    names = (*CLASSES, "unknown")
    rows = []
    counts = pixels.transitions
    for b in range(counts.shape[0]):
        for a in range(counts.shape[1]):
            if counts[b, a]:
                n = int(counts[b, a])
                rows.append({"from": names[b], "to": names[a], "pixels": n, "area": n * pixel_area})
    return sorted(rows, key=lambda r: -r["pixels"])


def _write_transitions(
    result: ChangeResult,
    pixels: PixelClasses,
    only: str | None,
    seconds: float,
    status: Coverage,
) -> Path:
    path = Path(result.mask_path).with_name(TRANSITIONS_NAME)
    data = {
        "classes": list(CLASSES),
        "area_unit": result.area_unit,
        "transitions": transitions_table(pixels, result.pixel_area),
        "note": "pixels of the change mask before any 'only' filter",
        "only": only,
        "windows_classified": pixels.windows,
        "windows_total": pixels.total_windows,
        **status.to_dict(),
        "notes": [*pixels.notes, *pixels.details, *([status.note] if status.note else [])],
        "seconds": round(seconds, 2),
    }
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=1), encoding="utf-8")
    part.replace(path)
    return path
