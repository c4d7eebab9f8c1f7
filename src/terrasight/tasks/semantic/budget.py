"""A time budget for the semantic step: which windows to classify when all would take too long.

On a busy scene (tens of thousands of change objects) measuring every change's land
cover costs several times the change job itself: the land-cover network runs on both
dates of nearly every window, and each object is then cut by class one by one (some
3-4 ms an object on two cores). A user who did not ask for classes should not wait for
that, so the command line and the server give the step a budget of
:func:`default_budget` seconds (``--classes`` forces the whole step).

Within a budget the windows holding changes are visited in a fixed random order (spread
over the scene), and a window is classified only while the seconds spent so far, the
next window's estimate (the mean of the windows done; :data:`NETWORK_S_PER_MPX` for the
first) and :data:`OBJECT_S` for each object lying wholly in classified windows fit in the
budget. The objects' cost is a constant, not measured: on a busier or slower machine the
step may overrun its budget by that much (scaling it by how slow the windows ran was
tried and stopped far too early: 17 s used of a 32 s budget at 8192 px). Objects that do not are left as plain change regions, without classes, and the
result says so (:func:`skipped_note`): a skipped class never reads as "no change of
that class".

Example:
    >>> default_budget(4.0), default_budget(100.0)
    (10.0, 100.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from terrasight.io.tiling import Tile, TileGrid

MULTIPLE = 1.0
"""The default budget: the semantic step may take this many times the change job's seconds."""
MIN_BUDGET_S = 10.0
"""... but never less than this: small and quiet scenes get every class."""
OBJECT_S = 0.002
"""Seconds to cut one object by class (measured on the busy 2048 px AirChange pair, cutting
alone: 1.6 ms an object with objects cut a group at a time, 3.0 ms before; a little margin
for slower machines)."""
NETWORK_S_PER_MPX = 0.4
"""Seconds per million pixels of window (both dates read and classified) before any window
has been timed (measured: 2.45 s for 6.5 Mpx of windows on the same pair)."""
SEED = 0


def default_budget(change_seconds: float, multiple: float = MULTIPLE) -> float:
    """Seconds the semantic step may take by default after a change job of ``change_seconds``.

    Example:
        >>> default_budget(40.0, multiple=2.0)
        80.0
    """
    return max(MIN_BUDGET_S, multiple * float(change_seconds))


@dataclass
class WindowBudget:
    """Which windows of ``grid`` to classify within ``seconds``, and which objects that covers.

    Attributes:
        seconds: the budget.
        grid: the semantic step's windows.
        touches: per window, the positions (in store order) of the objects whose pixel box
            meets its core.
        remaining: per object, how many of the windows it meets are not classified yet.
        classified, skipped: windows classified, windows with changes left out.
        object_s: estimated seconds to cut one object (less with several processes).

    Example:
        >>> grid = TileGrid(Window(0, 0, 64, 32), size=32)  # doctest: +SKIP
        >>> budget = WindowBudget.of(5.0, grid, [(0, 0, 10, 10), (20, 0, 40, 8)])  # doctest: +SKIP
        >>> [len(t) for t in budget.touches]  # doctest: +SKIP
        [2, 1]
    """

    seconds: float
    grid: TileGrid
    touches: list[np.ndarray]
    remaining: np.ndarray
    classified: int = 0
    skipped: int = 0
    covered_count: int = 0
    object_s: float = OBJECT_S
    _timed: list[float] = field(default_factory=list)

    @classmethod
    def of(
        cls, seconds: float, grid: TileGrid, boxes: Iterable[tuple[int, int, int, int]]
    ) -> WindowBudget:
        """A budget over ``grid`` for objects of pixel boxes ``(col0, row0, col1, row1)``."""
        rows, cols = grid.shape
        size = grid.size
        x0, y0 = int(grid.region.col_off), int(grid.region.row_off)
        lists: list[list[int]] = [[] for _ in range(rows * cols)]
        count = []
        for i, (c0, r0, c1, r1) in enumerate(boxes):
            ra, rb = (int(r0) - y0) // size, (max(int(r1), int(r0) + 1) - 1 - y0) // size
            ca, cb = (int(c0) - x0) // size, (max(int(c1), int(c0) + 1) - 1 - x0) // size
            ra, ca = max(ra, 0), max(ca, 0)
            rb, cb = min(rb, rows - 1), min(cb, cols - 1)
            n = 0
            for r in range(ra, rb + 1):
                for c in range(ca, cb + 1):
                    lists[r * cols + c].append(i)
                    n += 1
            count.append(n)
        touches = [np.asarray(t, np.int64) for t in lists]
        remaining = np.asarray(count, np.int64)
        return cls(seconds, grid, touches, remaining, covered_count=int((remaining == 0).sum()))

    def order(self) -> list[Tile]:
        """The windows in a fixed random order, so any prefix is spread over the scene."""
        index = np.random.default_rng(SEED).permutation(len(self.grid))
        return [self.grid[int(i)] for i in index]

    def allows(self, tile: Tile, elapsed: float) -> bool:
        """Whether classifying ``tile`` (and cutting the objects it completes) fits, after
        ``elapsed`` seconds of windows."""
        if self._timed:
            estimate = float(np.mean(self._timed))
        else:
            estimate = NETWORK_S_PER_MPX * int(tile.read.width) * int(tile.read.height) / 1e6
        touching = self.touches[tile.index]
        completes = int((self.remaining[touching] == 1).sum())
        objects = (self.covered_count + completes) * self.object_s
        return elapsed + estimate + objects <= self.seconds

    def mark(self, tile: Tile, seconds: float | None = None) -> None:
        """``tile`` is classified (or has no change to classify); ``seconds`` it took."""
        touching = self.touches[tile.index]
        self.remaining[touching] -= 1
        self.covered_count += int((self.remaining[touching] == 0).sum())
        if seconds is not None:
            self._timed.append(seconds)
            self.classified += 1

    def skip(self) -> None:
        """A window with changes is left out."""
        self.skipped += 1

    @property
    def covered(self) -> np.ndarray:
        """Per object (store order): whether all its windows were classified."""
        return self.remaining <= 0

    @property
    def complete(self) -> bool:
        """Whether no window with changes was left out."""
        return self.skipped == 0


def skipped_note(
    skipped: int, windows: int, objects_left: int, objects: int, share: float, seconds: float
) -> str:
    """The sentence a budgeted result carries when some classes were not computed.

    Example:
        >>> skipped_note(3, 10, 40, 100, 0.7, 30.0)[:60]
        'classes not computed for 3 of 10 windows with changes (40 of'
    """
    return (
        f"classes not computed for {skipped} of {windows} windows with changes "
        f"({objects_left} of {objects} objects have no from/to class; "
        f"{100 * share:.0f}% of the changed pixels were classified) to stay within the "
        f"{seconds:.0f} s budget: an object without a class is unknown, not unchanged. "
        "Run with --classes to force (classes=True in the API)."
    )
