"""Change facts: for every change object how big, what shape, where, and what it was and became.

Everything terrasight says in words rests on these facts, and every number in
them points at the objects it comes from. The land cover before and after is the one
measured per pixel by the land-cover network where the objects carry it
(``terrasight.tasks.semantic``, :mod:`~terrasight.tasks.interpret.measured`), else a
zero-shot classification of each object's crop (with context around it) by an
image-text model over :data:`~terrasight.tasks.interpret.vocabulary.LAND_COVER`;
a class below ``min_confidence`` is ``"unknown"``, never a guess. Only the
``max_classified`` largest objects are classified (they hold most of the
changed area; the facts say how much).

Example:
    >>> facts = change_facts(result)  # doctest: +SKIP
    >>> facts.objects[0].change, facts.by_location["north-east"]  # doctest: +SKIP
    ('vegetation -> built-up', {'count': 3, 'area': 5120.0})
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import shape as to_shape

from terrasight.io.measure import metric_frame, rectangle_sides
from terrasight.io.vectors import cell_words, grid_cell
from terrasight.models.runtime import torch_threads
from terrasight.tasks.interpret.crops import grey_result
from terrasight.tasks.interpret.facts_data import ChangeFacts, ObjectFacts, totals
from terrasight.tasks.interpret.measured import (
    LANDCOVER,
    with_image_text_classes,
    with_measured_classes,
)
from terrasight.tasks.interpret.spectral import restrict
from terrasight.tasks.interpret.vocabulary import (
    CELL_NAMES,
    ELONGATION,
    LAND_COVER,
    LAND_COVER_TEMPLATES,
    THINNESS,
    size_class,
)

DATES = ("before", "after")
"""The two dates of a change, in order."""

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.result import ChangeObject, ChangeResult

__all__ = ["ChangeFacts", "FactsOptions", "ObjectFacts", "change_facts", "shape_of"]

MAX_CLASSIFIED = 50
"""Objects classified by default (the largest first)."""
MIN_CONFIDENCE = 0.5
"""Below this probability a land-cover class is reported as ``"unknown"``. Chosen on the
AID images of the image-text model's validation split (``benchmarks/land_cover_accuracy.py``):
at 0.5 four in five kept answers are right, against seven in ten for all answers."""


@dataclass(frozen=True)
class FactsOptions:
    """How facts are made.

    Attributes:
        classify: classify the land cover before and after (needs PyTorch).
        model: the image-text model (a ``vl`` registry name or a loaded model).
        max_classified: classify at most this many objects, the largest first.
        min_confidence: a class less likely than this is ``"unknown"``.
        classes: land-cover classes and their prompt phrases.
        spectral: where the images have red and near-infrared bands, let spectral
            indices of each object's pixels decide water / green / dry ground first
            (see :mod:`terrasight.tasks.interpret.spectral`).
    """

    classify: bool = True
    model: Any = "terrasight-vl"
    max_classified: int = MAX_CLASSIFIED
    min_confidence: float = MIN_CONFIDENCE
    classes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(LAND_COVER))
    spectral: bool = True

    def __post_init__(self) -> None:
        from terrasight.errors import InvalidOptionError

        if self.max_classified < 0:
            raise InvalidOptionError("max_classified must be 0 or more.")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InvalidOptionError("min_confidence must be between 0 and 1.")
        if self.classify and len(self.classes) < 2:
            raise InvalidOptionError("land-cover classification needs at least two classes.")


def shape_of(geometry: dict[str, Any]) -> tuple[str, float]:
    """``("elongated" | "compact", elongation)`` of a GeoJSON-like polygon.

    Elongation is the long / short side of the minimum rotated rectangle, or
    perimeter^2 / (4 area) / 3 for thin winding strips, whichever is larger.

    Example:
        >>> shape_of({"type": "Polygon", "coordinates": [[(0, 0), (10, 0), (10, 1), (0, 1)]]})
        ('elongated', 10.0)
        >>> shape_of({"type": "Polygon", "coordinates": [[(0, 0), (4, 0), (4, 3), (0, 3)]]})[0]
        'compact'
    """
    try:
        geom = to_shape(geometry)
    except (ValueError, AttributeError, TypeError, IndexError):
        return "compact", 1.0
    return shapes_of(np.array([geom], dtype=object))[0]


def shapes_of(geometries: np.ndarray) -> list[tuple[str, float]]:
    """:func:`shape_of` of an array of shapely geometries (None counts as empty), in a few
    vectorised GEOS calls.

    Example:
        >>> shapes_of(np.array([shapely.box(0, 0, 10, 1), None]))
        [('elongated', 10.0), ('compact', 1.0)]
    """
    areas, lengths = shapely.area(geometries), shapely.length(geometries)
    usable = ~shapely.is_missing(geometries) & ~shapely.is_empty(geometries) & (areas > 0)
    ratios = np.ones(len(geometries))
    rects = shapely.minimum_rotated_rectangle(geometries[usable])
    polygons = np.flatnonzero(usable)[shapely.get_type_id(rects) == 3]
    rings = shapely.get_exterior_ring(rects[shapely.get_type_id(rects) == 3])
    coords, index = shapely.get_coordinates(rings, return_index=True)
    starts = np.searchsorted(index, np.arange(len(rings)))
    counts = np.bincount(index, minlength=len(rings))
    for i, start, count in zip(polygons, starts, counts, strict=True):
        if count >= 4:
            sides = np.hypot(*np.diff(coords[start : start + 3], axis=0).T)
            ratios[i] = float(max(sides) / max(min(sides), 1e-12))
    out = []
    for ok, ratio, area, length in zip(usable, ratios, areas, lengths, strict=True):
        if not ok:
            out.append(("compact", 1.0))
            continue
        thin = length**2 / (4.0 * area)
        elongation = max(ratio, thin / 3.0) if thin >= THINNESS else ratio
        kind = "elongated" if elongation >= ELONGATION else "compact"
        out.append((kind, round(float(elongation), 2)))
    return out


def change_facts(
    result: ChangeResult,
    options: FactsOptions | None = None,
    cache: ModelCache | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
    crops: Any = None,
) -> ChangeFacts:
    """The facts of a change result: per object and for the whole scene.

    Args:
        result: a change result (``detect_changes``, or ``load_result`` of a saved folder).
        options: see :class:`FactsOptions`; default: classify the 50 largest objects
            with ``terrasight-vl``.
        cache: keeps the image-text model for later calls.
        progress: called with the number of objects classified after each batch.
        threads: PyTorch's threads while classifying (restored afterwards); None
            leaves them as they are.
        crops: the result's inputs already opened with
            :func:`~terrasight.tasks.interpret.crops.open_crops` (a caller that reads
            them again afterwards opens them once); None opens them here.

    Raises:
        MissingDependencyError: classification asked for without PyTorch (pass
            ``FactsOptions(classify=False)`` to do without it).
        RasterReadError: an input image cannot be read any more.

    Example:
        >>> facts = change_facts(result)  # doctest: +SKIP
        >>> facts.to_dict()["changed_fraction"]  # doctest: +SKIP
        0.012
    """
    opts = options or FactsOptions()
    inverse = ~result.affine
    objects = _all_object_facts(result, inverse)
    notes: list[str] = []
    todo = [i for i, f in enumerate(objects) if f.class_source != LANDCOVER]
    wanted = bool(opts.classify and todo and opts.max_classified)
    if wanted and (crops.grey if crops is not None else grey_result(result)):
        notes.append(
            "the images are grey (one band, or three identical ones): what the changes are "
            "was not classified, as the land-cover words need colour; every class is 'unknown'."
        )
        opts = replace(opts, classify=False)  # no model classified anything: none is named
    elif wanted:
        chosen = todo[: opts.max_classified]
        picked = [objects[i] for i in chosen]
        labels = _classify_objects(result, picked, opts, cache, progress, threads, crops)
        for i, label in zip(chosen, labels, strict=True):
            objects[i] = with_image_text_classes(objects[i], *label)
        if len(chosen) < len(todo):
            rest = [objects[i] for i in todo]
            share = sum(f.area for f in picked) / max(sum(f.area for f in rest), 1e-12)
            notes.append(
                f"land cover was classified for the {len(chosen)} largest of {len(todo)} "
                f"objects ({share:.0%} of their changed area); the others are 'unknown'."
            )
    elif todo and not opts.classify:
        notes.append("land cover was not classified; every class is 'unknown'.")
    return totals(result, objects, opts, notes)


def _cell(obj: ChangeObject, result: ChangeResult, inverse: Any) -> tuple[int, int]:
    """The object's grid cell: the one its ``location`` names (placed by its pixels when it
    was traced), else the cell of its centroid."""
    if obj.location in CELL_NAMES:
        row, col = divmod(CELL_NAMES.index(obj.location), 3)
        return row, col
    x, y = inverse * tuple(obj.centroid_image_crs)
    if not (math.isfinite(x) and math.isfinite(y)):
        c0, r0, c1, r1 = obj.pixel_bbox
        x, y = (c0 + c1) / 2, (r0 + r1) / 2
    return grid_cell(x, y, result.width, result.height)


def _all_object_facts(result: ChangeResult, inverse: Any) -> list[ObjectFacts]:
    """Every object's facts. Geometries are parsed, put into metres (pixels without a CRS:
    :mod:`terrasight.io.measure`) and measured by GEOS in batches (:func:`shapes_of`)."""
    split = getattr(result.objects, "split_records", None)
    centre = result.affine * (result.width / 2, result.height / 2)
    frame = metric_frame(result.crs, centre)
    records: Iterator[tuple[Any, Any]] = (
        split() if split is not None else ((o, o.geometry) for o in result.objects)
    )
    facts: list[ObjectFacts] = []
    for chunk in _batches(records, 1024):
        geometries = np.array([_geometry(g) for _, g in chunk], dtype=object)
        if frame is not None:
            geometries = frame(geometries)
        shapes = shapes_of(geometries)
        sides = np.column_stack(rectangle_sides(geometries))
        unit = "px" if frame is None else "m"
        facts.extend(
            replace(_object_facts(o, result, inverse, shape), **_lengths(row, unit))
            for (o, _), shape, row in zip(chunk, shapes, sides, strict=True)
        )
    return facts


def _geometry(geometry: Any) -> Any:
    """A shapely geometry of GeoJSON (text or dict); None when it cannot be read."""
    try:
        if isinstance(geometry, str | bytes):
            return shapely.from_geojson(geometry)
        return to_shape(geometry)
    except (shapely.errors.GEOSException, ValueError, AttributeError, TypeError, IndexError):
        return None


def _lengths(row: np.ndarray, unit: str) -> dict[str, Any]:
    values = [round(float(v), 2) if math.isfinite(v) else None for v in row]
    return dict(zip(("length", "width", "perimeter"), values, strict=True), length_unit=unit)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _object_facts(
    obj: ChangeObject,
    result: ChangeResult,
    inverse: Any,
    shape: tuple[str, float] | None = None,
) -> ObjectFacts:
    cell = _cell(obj, result, inverse)
    form, elongation = shape_of(obj.geometry) if shape is None else shape
    mean = round(float(obj.mean_probability), 4)
    facts = ObjectFacts(
        id=obj.id,
        pixels=obj.pixels,
        area=float(obj.area),
        area_unit=obj.area_unit,
        size=size_class(float(obj.area), obj.area_unit),
        shape=form,
        elongation=elongation,
        cell=cell,
        location=cell_words(cell),
        centroid_lonlat=obj.centroid_lonlat,
        pixel_bbox=tuple(obj.pixel_bbox),  # type: ignore[arg-type]
        mean_probability=mean if math.isfinite(mean) else None,
    )
    return with_measured_classes(facts, obj)


def _classify_objects(
    result: ChangeResult,
    objects: Sequence[ObjectFacts],
    opts: FactsOptions,
    cache: ModelCache | None,
    progress: Callable[[int], None] | None,
    threads: int | None = None,
    crops: Any = None,
) -> list[tuple[tuple[str, float], tuple[str, float]]]:
    """(before, after) (class, probability) of each object's context crop.

    Crops are read on a thread one batch ahead, the first while PyTorch and the
    model load.
    """
    from terrasight.tasks.embed import embed_images, load_model
    from terrasight.tasks.interpret.crops import open_crops

    names = list(opts.classes)
    out: list[tuple[tuple[str, float], tuple[str, float]]] = []
    step = 32
    batches = [objects[i : i + step] for i in range(0, len(objects), step)]
    with contextlib.ExitStack() as stack:
        if crops is None:
            crops = stack.enter_context(open_crops(result))
        reader = stack.enter_context(ThreadPoolExecutor(1))
        read = functools.partial(_read_batch, result, crops, opts.spectral)
        ahead = reader.submit(read, batches[0]) if batches else None
        if threads is not None:  # imports PyTorch: the first crops are read meanwhile
            stack.enter_context(torch_threads(threads))
        model = load_model(opts.model, cache=cache)
        classes = class_embeddings(opts, model, cache)
        for k, batch in enumerate(batches):
            pictures, groups = ahead.result()  # type: ignore[union-attr]
            ahead = reader.submit(read, batches[k + 1]) if k + 1 < len(batches) else None
            pair = [
                class_probabilities(embed_images(pictures[date], model), classes, model)
                for date in DATES
            ]
            for b, a, g in zip(*pair, groups, strict=True):
                b = restrict(b, names, g.get("before"))
                a = restrict(a, names, g.get("after"))
                out.append((_label(b, names, opts), _label(a, names, opts)))
            if progress is not None:
                progress(len(batch))
    return out


def _read_batch(
    result: ChangeResult, crops: Any, spectral: bool, batch: Sequence[ObjectFacts]
) -> tuple[dict[str, list[np.ndarray]], list[dict[str, str | None]]]:
    """Each date's context crops of a batch of objects, and each object's spectral groups.

    Both read the same open datasets, so both are read on one thread."""
    from terrasight.tasks.interpret.crops import context_window

    windows = [context_window(f.pixel_bbox, result.width, result.height) for f in batch]
    pictures = {date: [crops.crop(date, w) for w in windows] for date in DATES}
    groups = [_groups(crops, f) if spectral else {} for f in batch]
    return pictures, groups


def _groups(crops: Any, f: ObjectFacts) -> dict[str, str | None]:
    """The spectral group of each date of an object (empty without red and nir bands)."""
    if crops.spectra is None:
        return {}
    return dict(crops.spectra.groups(f.pixel_bbox))


def class_probabilities(embeddings: np.ndarray, classes: np.ndarray, model: Any) -> np.ndarray:
    """``(n, classes)`` land-cover probabilities of image embeddings, given the classes'
    embeddings (:func:`class_embeddings`).

    Example:
        >>> classes = class_embeddings(FactsOptions(), model)  # doctest: +SKIP
        >>> probs = class_probabilities(embed_images(crops), classes, model)  # doctest: +SKIP
    """
    logits = float(model.logit_scale) * (embeddings @ classes.T)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def class_embeddings(opts: FactsOptions, model: Any, cache: ModelCache | None = None) -> np.ndarray:
    """One normalised embedding per land-cover class of ``opts``: the mean over its phrases
    and the templates."""
    from terrasight.tasks.embed import label_embeddings

    rows = []
    for phrases in opts.classes.values():
        emb = label_embeddings(phrases, LAND_COVER_TEMPLATES, model, cache=cache).mean(axis=0)
        rows.append(emb / np.linalg.norm(emb))
    return np.stack(rows).astype(np.float32)


def _label(probs: np.ndarray, names: list[str], opts: FactsOptions) -> tuple[str, float]:
    best = int(np.argmax(probs))
    p = float(probs[best])
    return (names[best] if p >= opts.min_confidence else "unknown"), p
