"""The acquisition date of each image of a series: given, in the file's tags, or in its name.

Order of precedence: an explicit list of dates (one per image), then the
file's tags (``TIFFTAG_DATETIME`` as ``YYYY:MM:DD HH:MM:SS``, then
``ACQUISITIONDATETIME``, ``DATE_ACQUIRED``, ``DATETIME`` or ``datetime`` in ISO
form), then a date in the file name (``YYYY-MM-DD``, ``YYYY_MM_DD`` or
``YYYYMMDD``). An image without a date, or two images with the same date, is
an error that names the files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from terrasight.errors import SeriesDateError
from terrasight.io.remote import source_name

TAG_KEYS = ("TIFFTAG_DATETIME", "ACQUISITIONDATETIME", "DATE_ACQUIRED", "DATETIME", "datetime")
"""Tags read for a date, in this order."""

_NAME_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<sep>[-_]?)(?P<m>[01]\d)(?P=sep)(?P<d>[0-3]\d)(?!\d)"
)
_TAG_DATE = re.compile(r"(?P<y>\d{4})[-:/](?P<m>\d{1,2})[-:/](?P<d>\d{1,2})")


def parse_date(text: str) -> dt.date | None:
    """The calendar date at the start of a tag or option value, or None when there is none.

    Example:
        >>> parse_date("2019:06:01 10:30:00"), parse_date("2020-07-15T10:00:00Z")
        (datetime.date(2019, 6, 1), datetime.date(2020, 7, 15))
        >>> parse_date("20210301"), parse_date("June") is None
        (datetime.date(2021, 3, 1), True)
    """
    text = text.strip()
    found = _TAG_DATE.match(text) or _NAME_DATE.match(text)
    if not found:
        return None
    try:
        return dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
    except ValueError:
        return None


def date_in_name(name: str) -> dt.date | None:
    """The first valid date written in a file name, or None.

    Example:
        >>> date_in_name("S2_T33UVP_2019-06-01_B04.tif"), date_in_name("scene_20200715.tif")
        (datetime.date(2019, 6, 1), datetime.date(2020, 7, 15))
        >>> date_in_name("tile_12345.tif") is None
        True
    """
    for found in _NAME_DATE.finditer(name):
        try:
            return dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            continue
    return None


def date_in_tags(tags: Mapping[str, str]) -> dt.date | None:
    """The date in a raster's tags (see :data:`TAG_KEYS`), or None.

    Example:
        >>> date_in_tags({"TIFFTAG_DATETIME": "2019:06:01 10:30:00"})
        datetime.date(2019, 6, 1)
    """
    for key in TAG_KEYS:
        if key in tags and (found := parse_date(str(tags[key]))) is not None:
            return found
    return None


def image_date(path: str | Path, tags: Mapping[str, str]) -> dt.date | None:
    """One image's date from its tags, else from its file name; None when neither has one.

    Example:
        >>> image_date("x/2019-06-01.tif", {})
        datetime.date(2019, 6, 1)
    """
    return date_in_tags(tags) or date_in_name(source_name(path))


def parse_dates(value: str | Sequence[str | dt.date] | None) -> list[dt.date] | None:
    """Dates given by the user: a comma-separated string or a list of strings or dates.

    Raises:
        SeriesDateError: a value that is not a date.

    Example:
        >>> parse_dates("2019-01-01, 2020-01-01")
        [datetime.date(2019, 1, 1), datetime.date(2020, 1, 1)]
    """
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if isinstance(item, dt.datetime):
            out.append(item.date())
        elif isinstance(item, dt.date):
            out.append(item)
        elif (found := parse_date(str(item))) is not None:
            out.append(found)
        else:
            raise SeriesDateError(
                f"{str(item).strip()!r} is not a date; write dates as YYYY-MM-DD."
            )
    return out


def resolve_dates(
    paths: Sequence[str | Path],
    tags: Sequence[Mapping[str, str]],
    given: Sequence[dt.date] | None = None,
) -> list[dt.date]:
    """Each image's date: ``given`` when set, else its tags, else its file name.

    Raises:
        SeriesDateError: the number of given dates differs from the number of
            images, an image has no date, or two images share a date.

    Example:
        >>> resolve_dates(["a_2019-06-01.tif", "b.tif"], [{}, {"DATE_ACQUIRED": "2020-06-01"}])
        [datetime.date(2019, 6, 1), datetime.date(2020, 6, 1)]
    """
    if given is not None:
        if len(given) != len(paths):
            raise SeriesDateError(
                f"{len(given)} dates were given for {len(paths)} images; give one date per "
                "image, in the order of the images."
            )
        dates = list(given)
    else:
        found = [image_date(p, t) for p, t in zip(paths, tags, strict=True)]
        missing = [source_name(p) for p, d in zip(paths, found, strict=True) if d is None]
        if missing:
            raise SeriesDateError(
                f"no date for {', '.join(missing)}: none in its tags (TIFFTAG_DATETIME, "
                "ACQUISITIONDATETIME) nor in its name (YYYY-MM-DD or YYYYMMDD). Give the "
                "dates with --dates 2019-06-01,... (dates=[...])."
            )
        dates = [d for d in found if d is not None]
    seen: dict[dt.date, str] = {}
    for path, day in zip(paths, dates, strict=True):
        if day in seen:
            raise SeriesDateError(
                f"{seen[day]} and {source_name(path)} have the same date {day.isoformat()}; a "
                "series needs one image per date (mosaic same-day images first)."
            )
        seen[day] = source_name(path)
    return dates
