"""Change objects on disk: one JSON line per object, read back lazily through :class:`ObjectsView`.

A scene can hold hundreds of thousands of change objects. They are written to
a JSON-lines file as they are finished (:class:`ObjectWriter`) and the result
keeps only the byte offset of each line, so memory does not grow with the
geometries. :class:`ObjectsView` is a read-only sequence over that file:
``len``, indexing, slicing and iteration read just the lines asked for.
"""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any, overload

import numpy as np

from terrasight.tasks.change.result import ChangeObject

_GEOMETRY_KEY = b',"geometry":'
"""The geometry is the last member of each line (see :func:`object_record`)."""
_TUPLES = ("centroid_lonlat", "bbox_wgs84", "centroid_image_crs", "bbox_image_crs", "pixel_bbox")


def object_record(obj: ChangeObject) -> dict[str, Any]:
    """All attributes of ``obj``, geometry included, as a plain dict (no copies of the geometry).

    Example:
        >>> object_record(obj)["pixel_bbox"]  # doctest: +SKIP
        (4, 4, 8, 8)
    """
    return {name: getattr(obj, name) for name in ChangeObject.__dataclass_fields__}


def record_object(record: dict[str, Any]) -> ChangeObject:
    """The :class:`ChangeObject` of a record read back from JSON (lists become tuples, null NaN).

    Example:
        >>> record_object(json.loads(line)).id  # doctest: +SKIP
        1
    """
    values = dict(record)
    for name in _TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("mean_probability") is None:
        values["mean_probability"] = math.nan
    return ChangeObject(**values)


def dump_line(record: dict[str, Any]) -> bytes:
    """One JSON line (NaN written as null, the geometry last: see :meth:`ObjectsView.raw_records`),
    UTF-8."""
    if "geometry" in record and next(reversed(record)) != "geometry":
        record = {
            **{k: v for k, v in record.items() if k != "geometry"},
            "geometry": record["geometry"],
        }
    mean = record.get("mean_probability")
    if isinstance(mean, float) and not math.isfinite(mean):
        record = {**record, "mean_probability": None}
    return (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()


class ObjectWriter:
    """Append change objects to a JSON-lines file, remembering where each line starts.

    Written to ``path.part`` and renamed to ``path`` by :meth:`close`.

    Example:
        >>> with ObjectWriter(Path("objects.jsonl")) as writer:  # doctest: +SKIP
        ...     writer.add(obj)
        >>> view = writer.view()  # doctest: +SKIP
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._part = self.path.with_name(self.path.name + ".part")
        self._fh: IO[bytes] = open(self._part, "wb")  # noqa: SIM115 - closed by close()
        self._offsets = array("q")
        self._pos = 0

    def add(self, obj: ChangeObject) -> None:
        """Write one object."""
        self.add_record(object_record(obj))

    def add_record(self, record: dict[str, Any]) -> None:
        """Write one object given as a record (see :func:`object_record`)."""
        self.add_line(dump_line(record))

    def add_line(self, line: bytes) -> None:
        """Write one object given as its JSON line (a record, ``\\n``-terminated)."""
        self._offsets.append(self._pos)
        self._fh.write(line)
        self._pos += len(line)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if not self._fh.closed:
            self._fh.close()
            self._part.replace(self.path)

    def view(self) -> ObjectsView:
        """The objects written, read back lazily (closes the writer first)."""
        self.close()
        return ObjectsView(self.path, np.frombuffer(self._offsets, dtype=np.int64))

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ObjectsView(Sequence[ChangeObject]):
    """A read-only sequence of :class:`ChangeObject` s stored one per line in a file.

    Only the line offsets are in memory; each access reads and parses the lines
    it needs. The file is kept open, so the view still works after a temporary
    result folder has been removed; threads may read one view at the same time
    (each line is read whole under a lock). Compares equal to any sequence of the same
    objects (``view == ()`` when empty).

    Example:
        >>> objects = result.objects  # doctest: +SKIP
        >>> len(objects), objects[0].id, [o.area for o in objects[:3]]  # doctest: +SKIP
        (3273, 1, [5200.0, 4100.0, 3900.0])
    """

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.path = Path(path)
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._fh: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._size = 0
        if len(self._offsets):
            self._fh = open(self.path, "rb")  # noqa: SIM115 - closed with the view
            self._size = os.fstat(self._fh.fileno()).st_size
            weakref.finalize(self, self._fh.close)

    @classmethod
    def open(cls, path: str | Path) -> ObjectsView:
        """A view of an existing objects file (one JSON line per object), e.g. a job's
        ``change_objects.jsonl``: its line offsets are found by one pass over the file.

        Example:
            >>> objects = ObjectsView.open("changes/change_objects.jsonl")  # doctest: +SKIP
        """
        offsets = array("q")
        pos = 0
        with open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    offsets.append(pos)
                pos += len(line)
        return cls(Path(path), np.frombuffer(offsets, dtype=np.int64))

    def __len__(self) -> int:
        return int(self._offsets.size)

    @overload
    def __getitem__(self, index: int) -> ChangeObject: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ChangeObject, ...]: ...

    def __getitem__(self, index: int | slice) -> ChangeObject | tuple[ChangeObject, ...]:
        if isinstance(index, slice):
            return tuple(self._read(range(len(self))[index]))
        n = len(self)
        i = int(index) + n if int(index) < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError(f"object index {index} out of range for {n} objects")
        return next(self._read([i]))

    def __iter__(self) -> Iterator[ChangeObject]:
        """Objects in order (each line is read when it is reached)."""
        return self._read(range(len(self)))

    def records(self) -> Iterator[dict[str, Any]]:
        """The raw records (JSON dicts, geometry included), in order, without building objects."""
        for i in range(len(self)):
            yield json.loads(self._line(i))

    def raw_records(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Each object's attributes (a dict) and its geometry as GeoJSON text, in order.

        The geometry is not parsed, so a caller can hand it to a fast reader
        (e.g. :func:`shapely.from_geojson`) instead of building Python lists.
        """
        for i in range(len(self)):
            head, geometry = self._line(i).rstrip(b"\n").rsplit(_GEOMETRY_KEY, 1)
            yield json.loads(head + b"}"), geometry[:-1]

    def split_records(self) -> Iterator[tuple[ChangeObject, bytes]]:
        """Each object with an empty geometry (``{}``), and its geometry as GeoJSON text."""
        for record, geometry in self.raw_records():
            yield record_object({**record, "geometry": {}}), geometry

    def without_geometry(self, stop: int | None = None) -> Iterator[ChangeObject]:
        """The objects up to ``stop`` (all by default) with an empty geometry (``{}``):
        their attributes only, read without parsing the geometries."""
        for record, _ in islice(self.raw_records(), stop):
            yield record_object({**record, "geometry": {}})

    def _line(self, i: int) -> bytes:
        """Line ``i`` (with its newline, and any blank lines after it)."""
        assert self._fh is not None
        start = int(self._offsets[i])
        end = int(self._offsets[i + 1]) if i + 1 < len(self._offsets) else self._size
        with self._lock:
            self._fh.seek(start)
            return self._fh.read(end - start)

    def _read(self, indexes: Iterable[int]) -> Iterator[ChangeObject]:
        for i in indexes:
            yield record_object(json.loads(self._line(i)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[ObjectsView], tuple[Path, np.ndarray]]:
        """Pickled as its path and offsets (the file is opened again where it is unpickled)."""
        return (ObjectsView, (self.path, self._offsets))

    def __repr__(self) -> str:
        return f"ObjectsView({len(self)} objects in {self.path})"
