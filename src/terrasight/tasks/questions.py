"""The question grammar: every kind of question terrasight answers, in one place.

A question about a pair of dates, about a series of dates or about one image is
read into one of these types; its answer carries the type in ``question_type``
(``"unanswerable"`` when it cannot be answered). Pair answers, series answers,
one-image answers and the dialogue take their types from here, so a type added
here is seen by all of them and by type checkers.

Example:
    >>> "when" in SERIES_TYPES and "when" not in PAIR_TYPES
    True
    >>> set(PAIR_TYPES) <= set(QUESTION_TYPES)
    True
"""

from __future__ import annotations

from typing import Literal, get_args

PairQuestion = Literal[
    "presence",
    "count",
    "area",
    "location",
    "class",
    "comparison",
    "listing",
    "length",
    "date",
    "cloud",
]
"""What a question about a pair of dates (or a saved change result) asks for."""

SeriesQuestion = Literal["when", "presence", "count", "area"]
"""What a question about a series of three or more dates asks for."""

SceneQuestion = Literal["presence", "count", "area", "comparison", "rural_urban", "what", "where"]
"""What a question about one image asks for (``what``: what is at a place; ``where``: where
a class is)."""

QuestionType = Literal[PairQuestion, SeriesQuestion, SceneQuestion, "unanswerable"]
"""Any answer's ``question_type``."""

PAIR_TYPES: tuple[str, ...] = get_args(PairQuestion)
SERIES_TYPES: tuple[str, ...] = get_args(SeriesQuestion)
SCENE_TYPES: tuple[str, ...] = get_args(SceneQuestion)
QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)


def question_type(name: str) -> QuestionType:
    """``name`` as a :data:`QuestionType`, checked.

    Raises:
        ValueError: not a question type (a bug of the caller: types come from this module).

    Example:
        >>> question_type("count")
        'count'
    """
    if name not in QUESTION_TYPES:
        raise ValueError(f"{name!r} is not a question type; the types are {QUESTION_TYPES}")
    return name  # type: ignore[return-value]
