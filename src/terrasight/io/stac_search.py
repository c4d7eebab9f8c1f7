"""Find scenes in a STAC API (``/search``) and pick the clearest one near a date.

:func:`search_items` lists the Items of one collection over a box and between
two dates, as :class:`~terrasight.io.stac.StacScene` sorted by date;
:func:`pick_clearest` keeps, of those, the one with the lowest cloud cover
(then the nearest date) within a window of days around a date.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from terrasight.errors import (
    InvalidOptionError,
    MissingDependencyError,
    RemoteReadError,
    SceneNotFoundError,
    StacError,
)
from terrasight.io.aoi import check_bbox
from terrasight.io.stac import StacScene, item_scene, load_pystac, network_setting
from terrasight.io.stac_vrt import stac_cache_dir

if TYPE_CHECKING:
    import pystac

MAX_SCANNED = 2000
"""Most Items a search reads before it stops (cloud cover is filtered on this side)."""


@dataclass(frozen=True)
class SceneSearch:
    """What was searched for: it names the search in messages and is reusable for a series."""

    stac: str
    collection: str
    bbox: tuple[float, float, float, float]
    start: date
    end: date
    max_cloud: float | None = None

    def __str__(self) -> str:
        cloud = f", cloud cover <= {self.max_cloud:g}%" if self.max_cloud is not None else ""
        box = ",".join(f"{v:.6g}" for v in self.bbox)
        return (
            f"collection {self.collection!r} at {self.stac}, bbox {box}, "
            f"{self.start.isoformat()}..{self.end.isoformat()}{cloud}"
        )


@dataclass(frozen=True)
class Pick:
    """The scene picked for a date, and why."""

    scene: StacScene
    date: date
    candidates: int
    window_days: int

    @property
    def days_off(self) -> int:
        """Days between the scene and the date asked for."""
        return abs((_day(self.scene) - self.date).days)

    @property
    def reason(self) -> str:
        """Why this scene: e.g. ``lowest cloud cover (3.1%) of 4 items within 30 days of ...``."""
        cloud = self.scene.cloud_cover
        how = f"lowest cloud cover ({cloud:g}%)" if cloud is not None else "no cloud cover given"
        return (
            f"{how} of {self.candidates} item{'s' if self.candidates != 1 else ''} within "
            f"{self.window_days} days of {self.date.isoformat()}, {self.days_off} days off"
        )


def search_items(
    stac: str,
    collection: str,
    bbox: Sequence[float],
    start: date,
    end: date,
    max_cloud: float | None = None,
    limit: int | None = None,
    method: str = "POST",
) -> list[StacScene]:
    """The Items of ``collection`` over ``bbox`` (WGS84) taken from ``start`` to ``end``, by date.

    Cloud cover (``eo:cloud_cover``) is filtered here, so any STAC API works; an
    Item without it is left out when ``max_cloud`` is given. ``limit`` keeps the
    first that many (by date).

    Raises:
        InvalidOptionError: a bad box, dates in the wrong order, a cloud cover out of 0..100.
        StacError: the URL answers but is no STAC API with item search.
        RemoteReadError: the API cannot be reached or answers with an error (URL named).

    Example:
        >>> scenes = search_items("https://earth-search.aws.element84.com/v1", "sentinel-2-l2a",
        ...     (15.1, 45.2, 15.2, 45.3), date(2023, 6, 1), date(2023, 6, 30), max_cloud=20)  # doctest: +SKIP
        >>> [(s.id, s.cloud_cover) for s in scenes][:1]  # doctest: +SKIP
        [('S2A_33TWL_20230602_0_L2A', 3.1)]
    """
    query = _checked(stac, collection, bbox, start, end, max_cloud)
    scenes = [s for s in _fetch(query, method) if _clear_enough(s, max_cloud)]
    scenes.sort(key=lambda s: (s.datetime is None, s.datetime or datetime.min, s.id))
    return scenes[:limit] if limit is not None else scenes


def _checked(
    stac: str,
    collection: str,
    bbox: Sequence[float],
    start: date,
    end: date,
    max_cloud: float | None,
) -> SceneSearch:
    if end < start:
        raise InvalidOptionError(
            f"the search ends ({end.isoformat()}) before it starts ({start.isoformat()})."
        )
    if max_cloud is not None and not 0 <= max_cloud <= 100:
        raise InvalidOptionError(f"max cloud cover {max_cloud:g} must be a percentage, 0..100.")
    if not collection.strip():
        raise InvalidOptionError("a STAC search needs a collection, e.g. sentinel-2-l2a.")
    return SceneSearch(stac, collection, check_bbox(bbox), start, end, max_cloud)


def _clear_enough(scene: StacScene, max_cloud: float | None) -> bool:
    if max_cloud is None:
        return True
    return scene.cloud_cover is not None and scene.cloud_cover <= max_cloud


def _fetch(query: SceneSearch, method: str) -> list[StacScene]:
    """The search's Items, from one client with the network settings' timeout and retries."""
    pystac = load_pystac()
    try:
        import requests
        from pystac_client.errors import ClientTypeError
        from pystac_client.exceptions import APIError
    except ImportError:
        raise MissingDependencyError(
            "searching a STAC API needs pystac-client: pip install 'terrasight[stac]'."
        ) from None

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pystac_client")  # our errors say it
            return [_scene(item) for item in _items(query, method)]
    except (ClientTypeError, pystac.STACTypeError) as exc:
        raise StacError(f"{query.stac}: not a STAC API ({exc}).") from None
    except (APIError, requests.RequestException, json.JSONDecodeError, KeyError) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise RemoteReadError(f"STAC search at {query.stac} failed ({reason}).") from None


def _items(query: SceneSearch, method: str) -> Iterator[pystac.Item]:
    from pystac_client import Client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.stac_api_io import StacApiIO
    from urllib3.util.retry import Retry

    retry = Retry(
        total=int(network_setting("GDAL_HTTP_MAX_RETRY")),
        backoff_factor=network_setting("GDAL_HTTP_RETRY_DELAY"),
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
    )
    io = StacApiIO(timeout=network_setting("GDAL_HTTP_TIMEOUT"), max_retries=retry)
    client = Client.open(query.stac, stac_io=io)
    if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
        raise StacError(f"{query.stac}: not a STAC API with item search (no /search).")
    extra: dict[str, Any] = {}
    if query.max_cloud is not None and client.conforms_to(ConformanceClasses.QUERY):
        extra["query"] = {"eo:cloud_cover": {"lte": query.max_cloud}}
    search = client.search(
        method=method,
        collections=[query.collection],
        bbox=list(query.bbox),
        datetime=f"{query.start.isoformat()}/{query.end.isoformat()}",
        max_items=MAX_SCANNED,
        limit=100,
        **extra,
    )
    return search.items()


def _scene(item: Any) -> StacScene:
    """The scene of a search's Item; one without a self link is kept in the cache as a file."""
    href = item.get_self_href()
    if not href:
        data = json.dumps(item.to_dict(), sort_keys=True).encode()
        folder = stac_cache_dir() / "items"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{item.id}-{hashlib.sha256(data).hexdigest()[:12]}.json"
        if not path.exists():
            path.write_bytes(data)
        href = str(path)
    return item_scene(item, href)


def pick_clearest(scenes: Sequence[StacScene], when: date, window_days: int = 30) -> Pick | None:
    """The scene within ``window_days`` of ``when`` with the lowest cloud cover, then the nearest.

    A scene without cloud cover counts as cloudier than any with one. ``None``
    when no scene is within the window.

    Example:
        >>> a = StacScene("a", "a.json", datetime(2023, 6, 10), 12.0)
        >>> b = StacScene("b", "b.json", datetime(2023, 6, 20), 3.0)
        >>> pick_clearest([a, b], date(2023, 6, 12), window_days=10).scene.id
        'b'
    """
    near = [s for s in scenes if s.datetime and abs((_day(s) - when).days) <= window_days]
    if not near:
        return None

    def key(scene: StacScene) -> tuple[float, int, str]:
        cloud = scene.cloud_cover if scene.cloud_cover is not None else math.inf
        return (cloud, abs((_day(scene) - when).days), scene.id)

    return Pick(min(near, key=key), when, len(near), window_days)


def _day(scene: StacScene) -> date:
    return (scene.datetime or datetime.min).date()


def find_clearest(
    stac: str,
    collection: str,
    bbox: Sequence[float],
    when: date,
    window_days: int = 30,
    max_cloud: float | None = None,
) -> Pick:
    """Search ``window_days`` around ``when`` and pick the clearest scene there.

    Raises:
        SceneNotFoundError: nothing found; the message says what was searched.
        InvalidOptionError, StacError, RemoteReadError: as :func:`search_items`.

    Example:
        >>> pick = find_clearest(api, "sentinel-2-l2a", box, date(2023, 6, 15))  # doctest: +SKIP
        >>> pick.scene.id, pick.reason  # doctest: +SKIP
    """
    if window_days < 0:
        raise InvalidOptionError(f"window of {window_days} days: give 0 or more days.")
    span = timedelta(days=window_days)
    scenes = search_items(stac, collection, bbox, when - span, when + span, max_cloud)
    pick = pick_clearest(scenes, when, window_days)
    if pick is None:
        search = SceneSearch(
            stac, collection, check_bbox(bbox), when - span, when + span, max_cloud
        )
        raise SceneNotFoundError(
            f"no STAC item found for {when.isoformat()}: searched {search}. Widen the window "
            "(--window-days), raise --max-cloud or check the collection and box."
        )
    return pick


def pick_series(scenes: Sequence[StacScene], every_days: int = 0) -> list[StacScene]:
    """One scene per date, or per period of ``every_days``: the clearest, in date order.

    Periods start at the first scene's date. With ``every_days`` 0 every date is
    kept (the clearest of the scenes of one day). Scenes without a date are left out.

    Example:
        >>> a = StacScene("a", "a.json", datetime(2023, 6, 1), 40.0)
        >>> b = StacScene("b", "b.json", datetime(2023, 6, 20), 5.0)
        >>> c = StacScene("c", "c.json", datetime(2023, 8, 2), 9.0)
        >>> [s.id for s in pick_series([a, b, c], every_days=30)]
        ['b', 'c']
        >>> [s.id for s in pick_series([a, b, c])]
        ['a', 'b', 'c']
    """
    if every_days < 0:
        raise InvalidOptionError(f"a period of {every_days} days: give 0 or more days.")
    dated = sorted((s for s in scenes if s.datetime is not None), key=_day)
    if not dated:
        return []
    start = _day(dated[0])
    groups: dict[int, list[StacScene]] = {}
    for scene in dated:
        offset = (_day(scene) - start).days
        groups.setdefault(offset // every_days if every_days else offset, []).append(scene)

    def key(scene: StacScene) -> tuple[float, date, str]:
        cloud = scene.cloud_cover if scene.cloud_cover is not None else math.inf
        return (cloud, _day(scene), scene.id)

    return [min(group, key=key) for _, group in sorted(groups.items())]
