"""Dates of change over a series of three or more images of one place.

>>> from terrasight.tasks.series import detect_series, load_series
>>> result = detect_series(["a_2019-06-01.tif", "b_2020-06-01.tif", "c_2021-06-01.tif"],
...                        outdir="series/")  # doctest: +SKIP
>>> load_series("series/").objects[0].first_seen  # doctest: +SKIP
'2020-06-01'

The rule is in :mod:`terrasight.tasks.series.dating`.
"""

from terrasight.tasks.series.detect import detect_series
from terrasight.tasks.series.options import SeriesOptions
from terrasight.tasks.series.result import SeriesObject, SeriesResult, load_series

__all__ = ["SeriesObject", "SeriesOptions", "SeriesResult", "detect_series", "load_series"]
