"""The n-th largest or smallest change among those a tool's filters select.

Example:
    >>> ordinal(2), ordinal(3), ordinal(11)
    ('second', 'third', '11th')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from terrasight.errors import ToolArgumentError

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")


def ordinal(n: int) -> str:
    """The English ordinal of ``n`` (words up to nine)."""
    return ORDINALS[n - 1] if 1 <= n <= len(ORDINALS) else f"{n}th"


def ranked_id(
    listed: dict[str, Any], area_of: Callable[[int], float], extreme: str | None, rank: int
) -> int:
    """The id of the ``rank``-th ``extreme`` object among ``listed["evidence"]``.

    Raises:
        ToolArgumentError: no extreme given, a rank under 1, or fewer objects than the rank.

    Example:
        >>> ranked_id({"evidence": [1, 2, 3]}, {1: 5.0, 2: 9.0, 3: 7.0}.get, "largest", 2)
        3
    """
    if extreme is None:
        raise ToolArgumentError("measure: rank needs extreme ('largest' or 'smallest').")
    if rank < 1:
        raise ToolArgumentError(
            f"measure: rank is {rank}; give 1 for the {extreme}, 2 for the next..."
        )
    ids = [int(i) for i in listed.get("evidence") or ()]
    if rank > len(ids):
        raise ToolArgumentError(
            f"measure: only {len(ids)} change objects match, so there is no {ordinal(rank)} "
            f"{extreme}."
        )
    ids.sort(key=lambda i: (area_of(i), -i), reverse=extreme == "largest")
    return ids[rank - 1]
