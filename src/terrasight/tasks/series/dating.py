"""The dating rule: when did a pixel change, and stay changed?

Input per window: which dates are *clear* at each pixel (valid data, not
cloud or cloud shadow: a clouded pixel is "no observation" at that date, never
a change), and for two dates ``r < j`` the change mask of the pair given by
any registered change method (``cva`` by default).

A pixel's **change date** is the earliest clear date ``t`` for which some
earlier clear date ``r`` (the *reference*) satisfies:

1. **stays changed**: ``t`` and every later clear date differ from ``r``
   (``change(r, t)`` and ``change(r, t + k)`` for all later clear ``t + k``);
   at least ``confirm`` clear dates from ``t`` on (1: the date itself);
2. **unchanged until then**: the clear dates between ``r`` and ``t`` do not
   differ from ``r`` (so a gradual change is dated when it first becomes a
   significant difference from the state before, not missed because each
   step between neighbours is small);
3. **a seen state**: ``r`` is the pixel's first clear date, or some earlier
   clear date does not differ from ``r``. A single noisy or unmasked-cloudy
   date then differs from both neighbours and can be neither a change (1
   fails: later dates look like before again) nor a reference (3 fails).

The interval is ``(last_unchanged, first_seen]``: ``last_unchanged`` is the
last clear date before ``t`` (clouded dates in between widen it). A change
that is undone later (a flood that recedes) is not a change from the first
state, but its return is one from the flooded state: it is dated at the
return. Two dates cannot tell a change at the second date from a noisy first
date, so changes seen first at the second clear date rest on the first
clear date alone.

Pairs are compared ``r`` against every later ``j``: ``n (n - 1) / 2``
comparisons per window for ``n`` dates, with memory for one window of each date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NONE = -1
"""Date index meaning "none" (never changed, no reference)."""

ChangeOf = Callable[[int, int], np.ndarray | None]
"""``change(r, j)``: bool ``(h, w)`` change mask of dates ``r < j`` (read where both are
clear), or None when that pair cannot be compared (it is then not an observation)."""


@dataclass(frozen=True)
class Dating:
    """The rule's answer for one window: int16 ``(h, w)`` arrays of date indexes and counts.

    Attributes:
        first_seen: index of the change date, :data:`NONE` where never changed.
        last_unchanged: index of the last clear date before it, :data:`NONE` where none.
        confirmations: clear dates from ``first_seen`` on that show the change.
        clear_dates: number of clear dates of each pixel.
    """

    first_seen: np.ndarray
    last_unchanged: np.ndarray
    confirmations: np.ndarray
    clear_dates: np.ndarray


def date_changes(clear: np.ndarray, change: ChangeOf, confirm: int = 1) -> Dating:
    """Apply the dating rule (module docstring) to one window.

    Args:
        clear: bool ``(n, h, w)``: date ``k`` observed the pixel (valid and cloud-free).
        change: the pair comparison, called once per pair ``r < j`` in order of ``r``.
        confirm: clear dates from the change date on that must all show the change.

    Example:
        >>> clear = np.ones((4, 1, 3), bool)
        >>> state = np.array([[0, 0, 0], [0, 9, 0], [1, 0, 0], [1, 0, 0]])  # dates x pixels
        >>> d = date_changes(clear, lambda r, j: (state[r] != state[j])[None])
        >>> d.first_seen.tolist(), d.last_unchanged.tolist()  # 1 changed at 2; 2: noise at 1
        ([[2, -1, -1]], [[1, -1, -1]])
    """
    n, h, w = clear.shape
    first = np.full((h, w), NONE, np.int16)
    last = np.full((h, w), NONE, np.int16)
    count = np.zeros((h, w), np.int16)
    matched = np.zeros((n, h, w), bool)  # date j agrees with some earlier clear date
    seen = np.zeros((h, w), bool)  # some clear date before r
    for r in range(n - 1):
        if clear[r].any():
            _from_reference(r, clear, change, matched, seen, confirm, (first, last, count))
        seen |= clear[r]
    clear_dates = clear.sum(axis=0, dtype=np.int16)
    return Dating(first, last, count, clear_dates)


def _from_reference(
    r: int,
    clear: np.ndarray,
    change: ChangeOf,
    matched: np.ndarray,
    seen: np.ndarray,
    confirm: int,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Compare date ``r`` with every later date; keep the earlier change date where found."""
    first, last, count = out
    shape = clear.shape[1:]
    tail = np.full(shape, NONE, np.int16)  # start of the run of dates differing from r
    before_tail = np.full(shape, NONE, np.int16)
    prev = np.where(clear[r], r, NONE).astype(np.int16)  # last clear date so far
    hits = np.zeros(shape, np.int16)
    broken = np.zeros(shape, bool)  # a date differing from r, then one like r again
    for j in range(r + 1, clear.shape[0]):
        observed = clear[r] & clear[j]
        if not observed.any():
            continue
        changed = change(r, j)
        if changed is None:
            continue
        hit = observed & changed
        same = observed & ~changed
        matched[j] |= same
        broken |= same & (tail != NONE)
        start = hit & (tail == NONE) & ~broken
        before_tail[start] = prev[start]
        tail[start] = j
        hits += hit & (tail != NONE)
        prev[observed] = j
    reference_ok = clear[r] & (~seen | matched[r])
    found = reference_ok & (tail != NONE) & ~broken & (hits >= confirm)
    better = found & ((first == NONE) | (tail < first))
    first[better] = tail[better]
    last[better] = before_tail[better]
    count[better] = hits[better]
