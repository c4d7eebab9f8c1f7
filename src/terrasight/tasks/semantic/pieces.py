"""One group of change objects cut into pieces, the pieces of the whole group traced at once.

:class:`Cutter` decides each object's classes and splits it
(:func:`~terrasight.tasks.semantic.split.pieces_of`; an object under ``min_pixels``
always stays one piece, so it is not split); :func:`trace_group` traces the pieces
of all objects of a group with one :func:`rasterio.features.shapes` call on a
raster of the group's window, each piece its own value. The objects are distinct
8-connected regions of the change mask, so no piece touches another object's piece
and each traces to the same polygons as in its own box; :func:`piece_records`
measures the pieces as the change job measures its objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from rasterio.windows import Window

from terrasight.io.geojson import polygonal
from terrasight.tasks.change.objects.trace import Scene, draft_record, merge_pieces
from terrasight.tasks.semantic.decide import as_codes, decide_classes, seen_building
from terrasight.tasks.semantic.split import majority, pieces_of

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Split:
    """One object split: its place in the store, pixel box, pixels, raw codes (2 bands),
    probabilities, piece labels ``1..n`` (0 outside) and decided codes (2 bands)."""

    parent: Any
    order: int
    box: Box
    inside: np.ndarray
    codes: np.ndarray
    prob: np.ndarray
    labels: np.ndarray
    n: int
    decided: np.ndarray


@dataclass(frozen=True)
class Cutter:
    """How objects are split (see :func:`~terrasight.tasks.semantic.split.split_pieces`)."""

    min_pixels: int
    spacing: int
    smooth: int
    neck: float
    together: bool
    cut_seen: bool

    def split(
        self, parent: Any, order: int, box: Box, inside: np.ndarray, codes: Any, prob: Any
    ) -> Split:
        """The object's decided classes and pieces.

        Example:
            >>> cutter = Cutter(4, 3, 1, 2.0, True, False)
            >>> one = cutter.split(None, 0, (0, 0, 2, 1), np.ones((1, 2), bool),
            ...                    np.array([[[4, 4]], [[0, 0]]], np.uint8), np.ones((1, 2)))
            >>> one.n, one.decided[:, 0, 0].tolist()
            (1, [4, 0])
        """
        b, a = decide_classes(codes[0], codes[1], inside, self.smooth, self.together)
        if int(inside.sum()) < self.min_pixels:  # no piece can reach min_pixels: one piece
            labels, n = inside.astype(np.int32), 1
        else:
            seen = None
            if self.cut_seen:
                seen = (
                    seen_building(codes[0], inside, self.smooth),
                    seen_building(codes[1], inside, self.smooth),
                )
            labels, n = pieces_of(b, a, inside, self.min_pixels, self.spacing, self.neck, seen)
        decided = np.stack([as_codes(b, codes[0]), as_codes(a, codes[1])])
        return Split(parent, order, box, inside, codes, prob, labels, n, decided)


def trace_group(splits: Sequence[Split], window: Window) -> list[dict[int, list[Any]]]:
    """The polygons (scene pixel coordinates) of each split's pieces, by piece label,
    from one trace of ``window``.

    Example:
        >>> one = Split(None, 0, (1, 0, 3, 1), None, None, None, np.array([[1, 2]]), 2, None)
        >>> [sorted(p) for p in trace_group([one], Window(0, 0, 4, 2))]
        [[1, 2]]
    """
    canvas = np.zeros((int(window.height), int(window.width)), np.int32)
    col0, row0 = int(window.col_off), int(window.row_off)
    first = []
    offset = 0
    for s in splits:
        c0, r0, c1, r1 = s.box
        view = canvas[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
        on = s.labels > 0
        view[on] = s.labels[on] + offset
        first.append(offset)
        offset += s.n
    owner = np.repeat(np.arange(len(splits)), [s.n for s in splits])
    parts: list[dict[int, list[Any]]] = [{} for _ in splits]
    tile = Affine.translation(col0, row0)
    for geom, value in shapes(canvas, mask=canvas > 0, connectivity=4, transform=tile):
        k = int(owner[int(value) - 1])
        parts[k].setdefault(int(value) - first[k], []).append(polygonal(geom))
    return parts


def piece_records(
    s: Split, parts: dict[int, list[Any]], scene: Scene
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """``(label, record, GeoJSON text)`` of each piece, the record without id and WGS84.

    Example:
        >>> [r["pixels"] for _, r, _ in piece_records(split, parts, scene)]  # doctest: +SKIP
        [120, 31]
    """
    c0, r0 = s.box[:2]
    labels, prob, codes = s.labels, s.prob, s.decided
    for piece in range(1, s.n + 1):
        own = labels == piece if s.n > 1 else labels > 0
        rr, cc = np.nonzero(own)
        if piece not in parts or not rr.size:
            continue
        p = prob[own]
        finite = np.isfinite(p)
        stats = {
            "pixels": int(rr.size),
            "col_sum": float(cc.sum() + c0 * rr.size),
            "row_sum": float(rr.sum() + r0 * rr.size),
            "col0": int(cc.min()) + c0,
            "row0": int(rr.min()) + r0,
            "col1": int(cc.max()) + c0 + 1,
            "row1": int(rr.max()) + r0 + 1,
            "prob_sum": float(p[finite].sum()),
            "prob_n": int(finite.sum()),
        }
        geom = merge_pieces(parts[piece], scene, one_tile=True)
        record = draft_record(stats, geom, scene)
        record["from_class"], record["from_share"] = majority(codes[0][own])
        record["to_class"], record["to_share"] = majority(codes[1][own])
        yield piece, record, shapely.to_geojson(geom)
