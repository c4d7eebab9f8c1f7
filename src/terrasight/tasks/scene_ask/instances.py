"""Objects of a land-cover map: connected patches of one class, touching buildings split.

Each class's pixels are grouped into 4-connected patches; patches smaller than
``min_pixels`` are dropped as specks. Buildings that touch through a narrow neck
are split on the distance transform: every part whose distance to the edge
reaches half of its patch's largest distance is the core of one building, and
each pixel of the patch goes to its nearest core.

Example:
    >>> mask = np.zeros((9, 20), bool); mask[1:8, 1:8] = True; mask[1:8, 12:19] = True
    >>> mask[4, 8:12] = True   # a one-pixel neck joins two squares
    >>> split_touching(mask)[1]
    2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from rasterio import features as rio_features
from scipy import ndimage

from terrasight.io.vectors import VectorFeature, location_words
from terrasight.tasks.scene_ask.labelling import WINDOW, label_objects
from terrasight.tasks.scene_ask.labelling import split_touching as split_touching
from terrasight.tasks.scene_ask.landcover_map import LandCoverMap

UNKNOWN = "unknown"
"""The class name of pixels the model was unsure of; it makes no objects."""
SIZE_M2 = {"building": (100.0, 1000.0)}
"""Upper bounds (m2) of ``small`` and ``medium`` per class; ``large`` above."""
SIZE_M2_OTHER = (1_000.0, 10_000.0)
"""The same bounds for the classes not in :data:`SIZE_M2`."""
SIZE_SHARE_PX = (0.001, 0.01)
"""Without a CRS: the bounds as shares of the image's pixels."""
MIN_SHAPE_PIXELS = 16
"""Objects smaller than this get no shape word (too few pixels to tell)."""


@dataclass(frozen=True)
class Instance:
    """One object: a patch of one class.

    Attributes:
        id: unique over the map (numbered by class code, then by position).
        name: its class.
        pixels: its pixel count.
        area: its ground area in the map's unit.
        bbox: ``(row0, col0, row1, col1)``, the ends exclusive.
        centroid: ``(row, col)`` of its centre of mass.
        place: its 3 x 3 grid cell in words (``north-west`` .. ``south-east``, ``centre``).
        size: ``small``, ``medium`` or ``large``.
    """

    id: int
    name: str
    pixels: int
    area: float
    bbox: tuple[int, int, int, int]
    centroid: tuple[float, float]
    place: str
    size: str


@dataclass(frozen=True)
class SceneObjects:
    """All objects of a land-cover map, with their label raster (one disk-backed raster of ids
    unique over all classes, under each class name); ``unsplit`` counts building patches too
    large to be split at their necks.

    Example:
        >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
        >>> c = np.full((6, 6), 1, np.uint8); c[1:3, 1:3] = 0; c[4:6, 4:6] = 0
        >>> objs = find_objects(LandCoverMap(c, ("building", "bare"), np.ones(6), "px"), 2)
        >>> [o.id for o in objs.of("building")], objs.of("bare")[0].pixels
        ([1, 2], 28)
    """

    map: LandCoverMap
    instances: tuple[Instance, ...]
    labels: dict[str, np.ndarray] = field(repr=False)
    unsplit: int = 0

    def of(self, name: str) -> list[Instance]:
        """The objects of one class."""
        return [i for i in self.instances if i.name == name]

    def by_id(self, ids: list[int] | tuple[int, ...]) -> list[Instance]:
        """The objects with these ids, in that order."""
        table = {i.id: i for i in self.instances}
        return [table[k] for k in ids if k in table]

    def polygon(self, inst: Instance) -> shapely.Geometry:
        """The object's outline in pixel (column, row) coordinates."""
        r0, c0, r1, c1 = inst.bbox
        crop = self.labels[inst.name][r0:r1, c0:c1] == inst.id
        parts = [
            shapely.geometry.shape(g)
            for g, v in rio_features.shapes(crop.astype(np.uint8), mask=crop)
            if v == 1
        ]
        return shapely.affinity.translate(shapely.union_all(parts), c0, r0)

    def outlines(self, insts: list[Instance]) -> dict[int, shapely.Geometry]:
        """Outlines of many objects in pixel coordinates: one pass over each class's labels."""
        out: dict[int, list[shapely.Geometry]] = {i.id: [] for i in insts}
        for name in {i.name for i in insts}:
            lab = self.labels[name]
            wanted = np.array([i.id for i in insts if i.name == name])
            keep = np.isin(lab, wanted)
            for g, v in rio_features.shapes(lab.astype(np.int32), mask=keep):
                out[int(v)].append(shapely.geometry.shape(g))
        return {k: shapely.union_all(v) for k, v in out.items()}

    def features(self, ids: list[int] | tuple[int, ...]) -> list[VectorFeature]:
        """The objects as features in the map's CRS (pixel coordinates without one)."""
        t = self.map.transform
        matrix = [t.a, t.b, t.d, t.e, t.c, t.f]
        insts = self.by_id(ids)
        outlines = self.outlines(insts)
        out = []
        for inst in insts:
            outline = outlines[inst.id]
            geom = shapely.affinity.affine_transform(outline, matrix)
            props = {
                "class": inst.name,
                "area": round(inst.area, 2),
                "unit": self.map.unit,
                "place": inst.place,
                "size": inst.size,
                "shape": shape_word(self, inst, outline),
            }
            out.append(VectorFeature(shapely.geometry.mapping(geom), props, inst.id))
        return out


def find_objects(lc: LandCoverMap, min_pixels: int = 4, window: int = WINDOW) -> SceneObjects:
    """Every object of every class of ``lc`` (``unknown`` excepted), labelled window by
    window in bounded memory (:func:`~terrasight.tasks.scene_ask.labelling.label_objects`):
    the same objects whatever ``window`` is.

    Args:
        lc: the land-cover map.
        min_pixels: patches with fewer pixels are dropped.
        window: the side (px) of the windows the map is labelled in.
    """
    height, width = lc.shape
    found = label_objects(lc.classes, lc.row_area, lc.names, min_pixels, skip=(UNKNOWN,),
                          window=window)  # fmt: skip
    instances = tuple(
        Instance(
            id=o.id,
            name=o.name,
            pixels=o.pixels,
            area=o.area,
            bbox=o.bbox,
            centroid=o.centroid,
            place=location_words(o.centroid[1] + 0.5, o.centroid[0] + 0.5, width, height),
            size=size_word(o.name, o.area, lc),
        )
        for o in found.objects
    )
    labels = {name: found.labels for name in lc.names if name != UNKNOWN}
    return SceneObjects(lc, instances, labels, found.unsplit)


def size_word(name: str, area: float, lc: LandCoverMap) -> str:
    """``small``, ``medium`` or ``large`` for an object's area (see :data:`SIZE_M2`).

    Example:
        >>> lc = LandCoverMap(np.zeros((10, 10), np.uint8), ("building",), np.ones(10), "m2")
        >>> size_word("building", 50.0, lc), size_word("building", 5000.0, lc)
        ('small', 'large')
    """
    if lc.unit == "px":
        pixels = lc.shape[0] * lc.shape[1]
        small, medium = (s * pixels for s in SIZE_SHARE_PX)
    else:
        small, medium = SIZE_M2.get(name, SIZE_M2_OTHER)
    return "small" if area < small else "medium" if area < medium else "large"


def shape_word(objs: SceneObjects, inst: Instance, outline: shapely.Geometry | None = None) -> str:
    """``circular``, ``square``, ``rectangular`` or ``irregular``; ``""`` when too small.

    Circular: the outline fills at least 75 % of its smallest enclosing circle.
    Square or rectangular: it fills at least 85 % of its smallest rotated
    rectangle, square when that rectangle's sides differ by at most 20 %.
    """
    if inst.pixels < MIN_SHAPE_PIXELS:
        return ""
    poly = objs.polygon(inst) if outline is None else outline
    circle = shapely.minimum_bounding_circle(poly)
    if circle.area > 0 and poly.area / circle.area >= 0.75:
        return "circular"
    rect = shapely.minimum_rotated_rectangle(poly)
    if rect.area <= 0 or poly.area / rect.area < 0.85:
        return "irregular"
    xs, ys = rect.exterior.coords.xy
    sides = sorted(float(np.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i])) for i in range(2))
    return "square" if sides[1] <= 1.2 * sides[0] else "rectangular"


def near(objs: SceneObjects, ids: list[int], other: np.ndarray, metres: float = 10.0) -> list[int]:
    """Those of ``ids`` within ``metres`` (at least 2 px) of a pixel of the mask ``other``."""
    if not ids or not other.any():
        return []
    px = 2.0
    if objs.map.unit == "m2":
        side = float(np.sqrt(np.median(objs.map.row_area)))
        px = max(px, metres / side) if side > 0 else px
    dist = ndimage.distance_transform_edt(~other)
    out = []
    for inst in objs.by_id(ids):
        r0, c0, r1, c1 = inst.bbox
        inside = objs.labels[inst.name][r0:r1, c0:c1] == inst.id
        if inside.any() and float(dist[r0:r1, c0:c1][inside].min()) <= px:
            out.append(inst.id)
    return out


def beside(objs: SceneObjects, ids: list[int], other: list[Instance], side: str) -> list[int]:
    """Those of ``ids`` whose centre lies wholly ``left``/``right``/``top``/``bottom`` of an
    object of ``other`` (beyond that object's box on that side)."""
    out = []
    for inst in objs.by_id(ids):
        row, col = inst.centroid
        for o in other:
            r0, c0, r1, c1 = o.bbox
            if (
                o.id != inst.id
                and {
                    "left": col < c0,
                    "right": col >= c1,
                    "top": row < r0,
                    "bottom": row >= r1,
                }[side]
            ):
                out.append(inst.id)
                break
    return out
