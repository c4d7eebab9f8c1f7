"""One window of a series: read every date once, compare the pairs, apply the dating rule.

A pure function of the window (given the stack, the fitted pairs and the cloud masks), so
it runs the same on this process's threads and on Dask workers
(:mod:`terrasight.tasks.series.cluster`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from terrasight.io.tiling import Tile
from terrasight.tasks.change.methods.base import FittedChange
from terrasight.tasks.series.dating import NONE, date_changes
from terrasight.tasks.series.fit import DateClouds, pair_key, read_clear
from terrasight.tasks.series.stack import SeriesStack

WindowResult = tuple[Tile, np.ndarray, np.ndarray, dict[str, Any]]
"""A window's tile, change date, interval bands and journal record."""


def date_window(
    stack: SeriesStack,
    fitted: dict[str, FittedChange | None],
    clouds: DateClouds,
    confirm: int,
    tile: Tile,
) -> WindowResult:
    """Read one window of every date, compare the pairs, apply the rule; crop to the core.

    Example:
        >>> tile, date, interval, record = date_window(stack, fitted, clouds, 1, grid[0])  # doctest: +SKIP
        >>> record["dated"]  # doctest: +SKIP
        [0, 120, 0, 40]
    """
    n = len(stack)
    data, clear, cloud = [], [], []
    with stack.readers() as reader:
        for k in range(n):
            d, c, m = read_clear(reader, clouds, k, tile.read)
            data.append(d)
            clear.append(c)
            cloud.append(m)
    clear_all = np.stack(clear)

    def change(r: int, j: int) -> np.ndarray | None:
        method = fitted.get(pair_key(r, j))
        if method is None:
            return None
        prob = method.probability(data[r], data[j], clear[r] & clear[j])
        return np.asarray(prob >= method.threshold)

    dating = date_changes(clear_all, change, confirm)
    rs, cs = tile.core_slices
    date = dating.first_seen[rs, cs]
    interval = np.stack(
        [dating.last_unchanged[rs, cs], dating.clear_dates[rs, cs], dating.confirmations[rs, cs]]
    )
    interval[2][date == NONE] = NONE
    record = {
        "tile": tile.index,
        "clear": [int(c[rs, cs].sum()) for c in clear],
        "cloud": [int(m[rs, cs].sum()) for m in cloud],
        "dated": [int((date == k).sum()) for k in range(n)],
    }
    return tile, date, interval, record
