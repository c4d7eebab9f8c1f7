"""Questions about kinds the classes cannot see, answered where the class holding them decides.

A commercial building is a building, grass is vegetation, a lake is water
(:data:`~terrasight.tasks.scene_ask.words.WITHIN`). The map cannot tell how many of
its buildings are commercial, but it can tell that there are none when there is
no building at all, and that there are fewer commercial buildings than roads when
there are fewer buildings than roads. Such answers are given, and say what they
rest on; every other question about an unseen kind stays "I can't tell".

Beside an "I can't tell", :attr:`SceneAnswer.guess` may hold the value the
question gets when the unseen kind is read as its whole class (every building
taken as commercial): a best guess for scoring a benchmark, never the answer,
never in its text or ``value``.

Example:
    >>> import numpy as np
    >>> from terrasight.tasks.scene_ask.instances import find_objects
    >>> from terrasight.tasks.scene_ask.landcover_map import LandCoverMap
    >>> c = np.ones((9, 9), np.uint8); c[0:3, 0:3] = 0
    >>> objs = find_objects(LandCoverMap(c, ("water", "bare", "building"), np.ones(9), "px"))
    >>> a = answer_scene(objs, parse("is there a commercial building?"))
    >>> a.value, a.answerable
    (False, True)
    >>> b = answer_scene(objs, parse("how many lakes are there?"))
    >>> b.answerable, b.value, b.guess
    (False, None, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from terrasight.tasks.scene_ask.answer import PLURAL, SceneAnswer, answer_query, noun
from terrasight.tasks.scene_ask.instances import SceneObjects
from terrasight.tasks.scene_ask.parse import SceneQuery, Target, parse
from terrasight.tasks.scene_ask.targets import class_area, select
from terrasight.tasks.scene_ask.words import LARGE_SCENE_M2, nearest_class, within_class

__all__ = ["answer_scene", "lifted", "parse"]


def answer_scene(objs: SceneObjects, q: SceneQuery) -> SceneAnswer:
    """:func:`~terrasight.tasks.scene_ask.answer.answer_query`, and for an unseen kind the
    answer its class decides (see the module docstring), or "I can't tell" with a guess."""
    answer = answer_query(objs, q)
    if answer.answerable:
        return answer
    whole = lifted(q)
    sure = None if whole is None else _decided(objs, q, whole)
    if sure is not None:
        return sure
    large = objs.map.unit == "m2" and objs.map.valid_area >= LARGE_SCENE_M2
    loose = lifted(q, partial(nearest_class, large=large))
    if loose is None:
        return answer
    guess = answer_query(objs, loose)
    return replace(answer, guess=guess.value if guess.answerable else None)


def lifted(q: SceneQuery, read: Callable[[str], str | None] = within_class) -> SceneQuery | None:
    """``q`` with every unseen kind read as the class that holds it (``read``: the class of a
    phrase); None when some unseen kind has no such class (parking, cars) or nothing is unseen.

    Example:
        >>> [t.name for t in lifted(parse("are there more grass areas than roads?")).targets]
        ['vegetation', 'road']
    """
    if not q.targets:
        return None
    out = tuple(_lift(t, read) for t in q.targets)
    if any(t is None for t in out) or out == q.targets:
        return None
    return replace(q, targets=out)  # type: ignore[arg-type]


def _lift(t: Target, read: Callable[[str], str | None]) -> Target | None:
    relation = t.relation
    if relation is not None:
        other = _lift(relation[1], read)
        if other is None:
            return None
        relation = (relation[0], other)
    if t.unseen is None:
        return replace(t, relation=relation)
    name = read(t.words)
    if name is None:
        return None
    return replace(t, name=name, unseen=None, relation=relation)


def _exact(t: Target) -> bool:
    """Whether a target names a class itself (its objects are counted exactly)."""
    return t.unseen is None and (t.relation is None or _exact(t.relation[1]))


def _decided(objs: SceneObjects, q: SceneQuery, whole: SceneQuery) -> SceneAnswer | None:
    """The answer when the holding classes decide it, else None."""
    if q.kind in ("presence", "count", "area"):
        return _none_at_all(objs, q, whole)
    if q.kind != "comparison" or q.op is None:
        return None
    bounds = []
    for t, w in zip(q.targets, whole.targets, strict=True):
        s = select(objs, w)
        if s.reason:
            return None
        high = float(len(s.ids)) if q.measure == "count" else class_area(objs, s, w.place)
        bounds.append((high if _exact(t) else 0.0, high))
    (alo, ahi), (blo, bhi) = bounds
    result = {
        "more": True if alo > bhi else False if ahi <= blo else None,
        "less": True if ahi < blo else False if alo >= bhi else None,
        "equal": (alo == ahi == blo == bhi) if (alo == ahi and blo == bhi) else
                 (False if ahi < blo or bhi < alo else None),
    }[q.op]  # fmt: skip
    if result is None:
        return None
    sides = [
        _side(t.words, lo, hi, q.measure, objs.map.unit)
        for t, (lo, hi) in zip(q.targets, bounds, strict=True)
    ]
    text = f"{'Yes' if result else 'No'}: {sides[0]} against {sides[1]}."
    return SceneAnswer(text, result, None, (), "comparison", (_NOTE,))


def _none_at_all(objs: SceneObjects, q: SceneQuery, whole: SceneQuery) -> SceneAnswer | None:
    """No object of the holding class at all: no object of the unseen kind either."""
    s = select(objs, whole.targets[0])
    if s.reason or s.ids:
        return None
    t, w = q.targets[0], whole.targets[0]
    text = f"No: there are no {PLURAL.get(str(w.name), w.name)} at all here, so no {t.words}."
    value: object = {"presence": False, "count": 0, "area": 0.0}[q.kind]
    unit = {"presence": None, "count": "objects", "area": objs.map.unit}[q.kind]
    if q.kind == "area" and objs.map.unit != "px":
        unit = q.unit or "m2"
    return SceneAnswer(text, value, unit, (), q.kind, (_NOTE,))


_NOTE = (
    "the classes cannot see this kind of object; the answer rests on the class that holds "
    "every such object (a commercial building is a building, grass is vegetation)"
)


def _side(words: str, low: float, high: float, measure: str, unit: str) -> str:
    """``at most 1 lake``, ``5 buildings``, ``buildings at most 1,200 m2``."""
    most = "" if low == high else "at most "
    if measure == "count":
        return f"{most}{high:,.0f} {noun(words, int(high))}"
    return f"{words} {most}{high:,.0f} {unit}"
