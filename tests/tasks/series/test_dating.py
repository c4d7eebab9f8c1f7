"""The dating rule on hand-made states: abrupt, gradual, noisy, clouded, undone changes."""

from __future__ import annotations

import numpy as np

from terrasight.tasks.series.dating import NONE, date_changes


def _date(states, clear=None, threshold=1.0, confirm=1):
    """Pixels' values per date ``(n, p)``; a pair differs where the values differ > threshold."""
    states = np.asarray(states, float)
    n, p = states.shape
    clear = np.ones((n, 1, p), bool) if clear is None else np.asarray(clear, bool)[:, None]

    def change(r, j):
        return (np.abs(states[r] - states[j]) > threshold)[None]

    d = date_changes(clear, change, confirm)
    return d.first_seen[0].tolist(), d.last_unchanged[0].tolist(), d.confirmations[0].tolist()


def test_abrupt_change_and_no_change():
    first, last, count = _date([[0, 0], [0, 0], [5, 0], [5, 0], [5, 0]])
    assert first == [2, NONE] and last == [1, NONE] and count == [3, 0]


def test_gradual_change_is_dated_when_it_first_differs_from_before():
    # Steps of 0.6 never differ from the neighbour (threshold 1), but date 2 differs from 0.
    first, last, _ = _date([[0.0], [0.6], [1.2], [1.8], [2.4]])
    assert first == [2] and last == [1]


def test_a_single_noisy_date_is_neither_a_change_nor_a_reference():
    # Pixel 0: noise at date 2 only. Pixel 1: noise at date 1, real change at date 3.
    first, last, _ = _date([[0, 0], [0, 9], [9, 0], [0, 5], [0, 5]])
    assert first == [NONE, 3] and last == [NONE, 2]


def test_a_clouded_date_is_no_observation():
    states = [[0], [0], [7], [5], [5]]  # date 2: a cloud (bright), the change at date 3
    clear = [[1], [1], [0], [1], [1]]
    first, last, _ = _date(states, clear)
    assert first == [3] and last == [1]  # interval (date 1, date 3]: date 2 was not seen
    first, _, _ = _date(states)  # the same cloud, unmasked, would date it one step early
    assert first == [2]


def test_undone_change_and_confirmations():
    # A flood at dates 1-2 that recedes at 3: no change from the first state; the return
    # is a change from the flooded state.
    first, last, _ = _date([[0], [6], [6], [0], [0]])
    assert first == [3] and last == [2]
    # A change seen only at the last date needs confirm=1.
    assert _date([[0], [0], [0], [4]])[0] == [3]
    assert _date([[0], [0], [0], [4]], confirm=2)[0] == [NONE]
