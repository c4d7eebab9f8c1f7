"""The data of change facts: :class:`ObjectFacts`, :class:`ChangeFacts`, JSON in and out.

Plain frozen data, JSON-ready through ``to_dict()`` and read back by
``from_dict()``, so ``facts.json`` of a saved result answers questions without
any model or image.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terrasight.errors import InvalidOptionError
from terrasight.tasks.interpret.vocabulary import CELL_NAMES

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeResult

FACTS_NAME = "facts.json"
"""File name of the facts beside a result's other outputs."""
FACTS_VERSION = 1
UNKNOWN = "unknown"

LANDCOVER = "landcover"
IMAGE_TEXT = "image-text"
LANDCOVER_MODEL = "terrasight-landcover"
"""The name the facts give the land-cover network as their ``model``."""
LANDCOVER_WORDS = {
    "building": "built-up",
    "road": "road",
    "water": "water",
    "vegetation": "vegetation",
    "bare": "bare land",
    "unknown": "unknown",
}
"""Land-cover class -> the facts' class word."""
LANDCOVER_CLASSES = tuple(w for w in LANDCOVER_WORDS.values() if w != "unknown")
"""The classes the land-cover network can tell apart, in the facts' words."""


@dataclass(frozen=True)
class ObjectFacts:
    """What is known of one change object.

    Attributes:
        id: the change object's id (1 = largest).
        pixels, area, area_unit: its size (``"m2"``, or ``"px"`` without a CRS).
        size: ``tiny``, ``small``, ``medium``, ``large`` or ``very large``.
        shape: ``compact`` or ``elongated`` (a road, a river bank); ``elongation`` its measure.
        cell: (row, column) of the 3 x 3 grid cell holding its centroid, north-west (0, 0).
        location: the cell's compass name (``north-east``, ``centre``...).
        centroid_lonlat: WGS84 centroid (None without a CRS).
        pixel_bbox: (col0, row0, col1, row1) in the output grid.
        mean_probability: mean change probability of its pixels.
        before_class, after_class: land cover before and after (``"unknown"`` when not
            classified or not confident); ``*_confidence`` their probabilities.
        length, width, perimeter: the long and short side of its minimum rotated rectangle
            and its outline, in ``length_unit``: ``"m"`` on every CRS (measured in a local
            projection in metres, never in degrees), ``"px"`` without one (None: facts
            written before lengths were measured).
        class_source: where the classes come from: ``"landcover"`` (the land-cover
            network, per pixel: confidences are the shares of the object's pixels),
            ``"image-text"`` (the image-text model on a crop), ``""`` (not classified).
    """

    id: int
    pixels: int
    area: float
    area_unit: str
    size: str
    shape: str
    elongation: float
    cell: tuple[int, int]
    location: str
    centroid_lonlat: tuple[float, float] | None
    pixel_bbox: tuple[int, int, int, int]
    mean_probability: float | None
    before_class: str = UNKNOWN
    before_confidence: float | None = None
    after_class: str = UNKNOWN
    after_confidence: float | None = None
    length: float | None = None
    width: float | None = None
    perimeter: float | None = None
    length_unit: str = ""
    class_source: str = ""

    @property
    def change(self) -> str:
        """``"before -> after"`` land cover, e.g. ``"vegetation -> built-up"``."""
        return f"{self.before_class} -> {self.after_class}"

    @property
    def classified(self) -> bool:
        return self.before_class != UNKNOWN or self.after_class != UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready attributes plus ``change``."""
        out = asdict(self)
        out["cell"] = list(self.cell)
        out["change"] = self.change
        return out


@dataclass(frozen=True)
class ChangeFacts:
    """The facts of a change result, per object and for the whole scene.

    Attributes:
        before, after, method: the result's inputs and change method.
        area_unit: ``"m2"`` or ``"px"``; every area below is in it.
        pixel_area: ground area of one pixel.
        scene_area, valid_area: area of the grid, and of the part with an answer.
        changed_area, changed_fraction: changed area and its share of ``valid_area``.
        width, height: the output grid.
        objects: the objects' facts, largest first.
        by_change, by_location, by_after_class, by_before_class, by_size, by_shape:
            ``{key: {"count": n, "area": a, "ids": [...]}}``.
        model: the image-text model that classified the land cover (None: not classified).
        classes: the land-cover classes used.
        unreliable, quality_issues: copied from the result: when True, "no change" may
            mean "not seen".
        notes: what the facts leave out (objects not classified...).
        warnings: the result's warnings (reflectance, resampling, clouds...), as ``terrasight
            change`` prints them.
        cloud_check: ``"checked"`` where a cloud mask ran, else ``"not checked (why)"``
            (``""``: not recorded); cloud_area: the area left out as cloud or shadow (None
            where no mask ran).
        dates: the before and after images' dates (ISO, None where unknown) from the tags
            of the files the job read (local copies, downloads and STAC Items' VRTs keep
            them) or the names given; ``()`` where not recorded.
    """

    before: str
    after: str
    method: str
    area_unit: str
    pixel_area: float
    scene_area: float
    valid_area: float
    changed_area: float
    changed_fraction: float
    width: int
    height: int
    objects: tuple[ObjectFacts, ...]
    by_change: dict[str, dict[str, Any]]
    by_location: dict[str, dict[str, Any]]
    by_after_class: dict[str, dict[str, Any]]
    by_before_class: dict[str, dict[str, Any]]
    by_size: dict[str, dict[str, Any]]
    by_shape: dict[str, dict[str, Any]]
    model: str | None
    classes: tuple[str, ...]
    unreliable: bool = False
    quality_issues: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    cloud_check: str = ""
    cloud_area: float | None = None
    dates: tuple[str | None, ...] = ()

    @property
    def object_count(self) -> int:
        return len(self.objects)

    def object(self, object_id: int) -> ObjectFacts:
        """The facts of one object by id.

        Raises:
            KeyError: no such object.
        """
        for f in self.objects:
            if f.id == object_id:
                return f
        raise KeyError(object_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts (``version``, scene totals, then ``objects``)."""
        out: dict[str, Any] = {"version": FACTS_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "objects":
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out["object_count"] = self.object_count
        out["objects"] = [o.to_dict() for o in self.objects]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeFacts:
        """Facts read back from :meth:`to_dict` (e.g. ``facts.json``).

        Raises:
            InvalidOptionError: not facts, or written by another version.
        """
        if not isinstance(data, dict) or data.get("version") != FACTS_VERSION:
            raise InvalidOptionError(
                f"not terrasight change facts of version {FACTS_VERSION}; make them again "
                "with 'terrasight describe' or by saving the result."
            )
        names = {f.name for f in fields(ObjectFacts)}
        objects = []
        for record in data["objects"]:
            values = {k: v for k, v in record.items() if k in names}
            values["cell"] = tuple(values["cell"])
            values["pixel_bbox"] = tuple(values["pixel_bbox"])
            if values.get("centroid_lonlat") is not None:
                values["centroid_lonlat"] = tuple(values["centroid_lonlat"])
            objects.append(ObjectFacts(**values))
        kept = {f.name for f in fields(cls)} - {"objects"}
        values = {k: data[k] for k in kept if k in data}
        for name in ("classes", "quality_issues", "notes", "warnings", "dates"):
            values[name] = tuple(values.get(name, ()))
        return cls(objects=tuple(objects), **values)


def group(objects: Iterable[ObjectFacts], key: str) -> dict[str, dict[str, Any]]:
    """``{value of key: {"count", "area", "ids"}}`` over objects, largest area first."""
    out: dict[str, dict[str, Any]] = {}
    for f in objects:
        name = f.change if key == "change" else str(getattr(f, key))
        entry = out.setdefault(name, {"count": 0, "area": 0.0, "ids": []})
        entry["count"] += 1
        entry["area"] += f.area
        entry["ids"].append(f.id)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["area"]))


def totals(
    result: ChangeResult, objects: Sequence[ObjectFacts], options: Any, notes: Sequence[str]
) -> ChangeFacts:
    """Scene-level facts of ``result`` from its objects' facts."""
    by_location = group(objects, "location")
    by_location = {
        name: by_location.get(name, {"count": 0, "area": 0.0, "ids": []}) for name in CELL_NAMES
    }
    classified = bool(options.classify and options.max_classified and objects)
    model, classes = model_and_classes(objects, options, classified)
    return ChangeFacts(
        before=str(result.before),
        after=str(result.after),
        method=result.method,
        area_unit=result.area_unit,
        pixel_area=float(result.pixel_area),
        scene_area=float(result.width * result.height * result.pixel_area),
        valid_area=float(result.valid_pixels * result.pixel_area),
        changed_area=float(result.changed_area),
        changed_fraction=round(float(result.changed_fraction), 6),
        width=result.width,
        height=result.height,
        objects=tuple(objects),
        by_change=group(objects, "change"),
        by_location=by_location,
        by_after_class=group(objects, "after_class"),
        by_before_class=group(objects, "before_class"),
        by_size=group(objects, "size"),
        by_shape=group(objects, "shape"),
        model=model,
        classes=classes,
        unreliable=bool(result.unreliable),
        quality_issues=tuple(result.quality_issues),
        notes=tuple(notes),
        warnings=tuple(result.other_warnings),
        cloud_check=result.cloud_check,
        cloud_area=(
            float(result.cloud_pixels * result.pixel_area) if result.clouds_checked else None
        ),
        dates=image_dates(result),
    )


def image_dates(result: ChangeResult) -> tuple[str | None, str | None]:
    """The before and after images' dates (ISO): from the tags or names of the files the
    job read, else from the names given (a URL's or a STAC Item's).

    Example:
        >>> image_dates(result)  # doctest: +SKIP
        ('2019-06-01', '2024-06-01')
    """
    found = []
    for given, read in zip((result.before, result.after), result.input_paths, strict=True):
        date = image_date_of(read) or image_date_of(given)
        found.append(date.isoformat() if date is not None else None)
    return found[0], found[1]


def write_facts(facts: ChangeFacts, path: str | Path) -> Path:
    """Write ``facts.json`` atomically (through a ``.part`` file).

    Example:
        >>> write_facts(facts, "changes/facts.json")  # doctest: +SKIP
    """
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(facts.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
    tmp.replace(path)
    return path


def read_facts(path: str | Path) -> ChangeFacts:
    """Facts written by :func:`write_facts`.

    Raises:
        InvalidOptionError: the file is missing, damaged or of another version.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOptionError(f"{path}: cannot read change facts ({exc}).") from None
    return ChangeFacts.from_dict(data)


def model_and_classes(
    objects: Any, options: Any, classified: bool
) -> tuple[str | None, tuple[str, ...]]:
    """The facts' ``model`` and ``classes``: the land-cover network's where objects carry
    measured classes, the image-text model's where it classified some (or, with no
    measured class at all, where it was asked to)."""
    sources = {f.class_source for f in objects}
    text_model = options.model if isinstance(options.model, str) else type(options.model).__name__
    if LANDCOVER not in sources:
        return (text_model if classified else None), (
            tuple(options.classes) if options.classify else ()
        )
    if IMAGE_TEXT not in sources:
        return LANDCOVER_MODEL, LANDCOVER_CLASSES
    extra = tuple(c for c in options.classes if c not in LANDCOVER_CLASSES)
    return f"{LANDCOVER_MODEL} and {text_model}", LANDCOVER_CLASSES + extra


def image_date_of(path: str) -> dt.date | None:
    """An image's date from its tags (a local file) or its name; None when neither has one.

    Example:
        >>> image_date_of("/nowhere/S2A_MSIL1C_20160812T101032_N0204_R022_T32TQM.tif")
        datetime.date(2016, 8, 12)
    """
    from terrasight.tasks.series.dates import image_date

    tags: dict[str, str] = {}
    if Path(path).is_file():
        import rasterio

        try:
            with rasterio.open(path) as ds:
                tags = dict(ds.tags())
        except rasterio.errors.RasterioIOError:
            tags = {}
    return image_date(path, tags)
