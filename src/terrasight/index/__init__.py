"""An archive index: the tiles of many scenes in one LanceDB table, searched by text, image,
place and date.

:func:`build` tiles image files (GeoTIFFs with a CRS, or plain images in pixel
space), embeds each tile with an image-text model and writes one row per tile;
it is incremental and crash-safe, and runs here or on a Dask cluster.
:func:`open` opens an index for :meth:`~terrasight.index.search.Index.search`.
Needs ``pip install 'terrasight[index]'`` (LanceDB, PyArrow, Dask).

Example:
    >>> from terrasight import index
    >>> index.build(["scenes/"], "archive.lance")  # doctest: +SKIP
    >>> hits = index.open("archive.lance").search("a harbour with many boats", k=10)  # doctest: +SKIP
    >>> hits.save_geojson("harbours.geojson")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from terrasight.errors import IndexNotFoundError
from terrasight.index.build import BuildReport, build
from terrasight.index.search import Hit, Index, SearchResult
from terrasight.index.store import open_table

__all__ = ["BuildReport", "Hit", "Index", "SearchResult", "build", "open"]


def open(db: str | Path) -> Index:  # noqa: A001  # the name the package's API gives it
    """Open the index folder ``db`` for search.

    Raises:
        IndexNotFoundError: ``db`` is not an index folder (nothing was built there).

    Example:
        >>> open("no/such/index")
        Traceback (most recent call last):
        ...
        terrasight.errors.IndexNotFoundError: index no/such/index: no index there. Build one with `terrasight index build SOURCES... --db no/such/index`.
    """
    table = open_table(db)
    if table is None:
        raise IndexNotFoundError(
            f"index {db}: no index there. Build one with "
            f"`terrasight index build SOURCES... --db {db}`."
        )
    return Index(db, table)
