"""Read the dates in a question about a series: "since 2021", "between May 2019 and 2020".

A question about a series of images names a span of time in words; :func:`find_span`
turns it into a :class:`DateSpan` of ISO dates (both ends inclusive, either
open), and :func:`span_words` says it back in the answer. Years, months
("March 2021", "2021-03") and full dates are read; "since" and "after" open
the span at the start, "before" and "until" close it at the end.

Example:
    >>> find_span("what changed since 2021?")
    DateSpan(start='2021-01-01', end=None, words='since 2021')
    >>> find_span("how many changes between May 2019 and 2020?").end
    '2020-12-31'
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE = (
    r"(?:(?P<y1>(?:19|20)\d\d)-(?P<m1>\d\d)(?:-(?P<d1>\d\d))?"
    rf"|(?:(?P<mn>{_MONTH})\.?\s+)?(?P<y2>(?:19|20)\d\d))"
)
"""A year, a month of a year or a full ISO date, with named groups."""
WHEN_WORDS = (
    r"^when\b|\bwhen (?:did|was|were|has|have|is|are)\b|\bwhat (?:date|year|month|time)\b"
    r"|\bwhich (?:date|year|month)\b|\btimeline\b|\bhow long ago\b"
)
"""Words of a question that asks when (a pattern for :func:`re.search`)."""
_ONE = re.compile(DATE)
_BETWEEN = re.compile(
    rf"\b(?:between|from)\s+(?P<a>{DATE.replace('?P<', '?P<a_')})\s+"
    rf"(?:and|to|until|till)\s+(?P<b>{DATE.replace('?P<', '?P<b_')})\b"
)
_OPEN = re.compile(
    rf"\b(?P<word>since|after|from|starting|before|until|till|up to|by|in|during)\s+"
    rf"(?:the (?:start|end|beginning) of\s+)?(?P<d>{DATE.replace('?P<', '?P<d_')})\b"
)


@dataclass(frozen=True)
class DateSpan:
    """A span of time named in a question.

    Attributes:
        start, end: ISO dates, inclusive; None where the span is open.
        words: the words of the question that named it ("since 2021").
    """

    start: str | None
    end: str | None
    words: str

    def contains(self, date: str) -> bool:
        """Whether an ISO date lies in the span.

        Example:
            >>> DateSpan("2021-01-01", None, "since 2021").contains("2020-12-31")
            False
        """
        return (self.start is None or date >= self.start) and (self.end is None or date <= self.end)


def _bounds(groups: dict[str, str | None], prefix: str) -> tuple[str, str]:
    """The first and last day a matched date names (a year, a month or a day)."""
    year = groups.get(prefix + "y1") or groups.get(prefix + "y2")
    assert year is not None
    month_text = groups.get(prefix + "m1")
    name = groups.get(prefix + "mn")
    month = int(month_text) if month_text else (MONTHS[name.lower()] if name else None)
    day = groups.get(prefix + "d1")
    if month is None:
        return f"{year}-01-01", f"{year}-12-31"
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month}")
    if day:
        return f"{year}-{month:02d}-{day}", f"{year}-{month:02d}-{day}"
    last = calendar.monthrange(int(year), month)[1]
    return f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last:02d}"


def find_span(question: str) -> DateSpan | None:
    """The span of time a question names, or None when it names none.

    Example:
        >>> find_span("did anything change before March 2020?")
        DateSpan(start=None, end='2020-02-29', words='before March 2020')
        >>> find_span("when did the lake grow?") is None
        True
    """
    text = question.lower()
    match = _BETWEEN.search(text)
    if match:
        start, _ = _bounds(match.groupdict(), "a_")
        _, end = _bounds(match.groupdict(), "b_")
        return DateSpan(start, end, _said(match.group(0)))
    match = _OPEN.search(text)
    if match:
        first, last = _bounds(match.groupdict(), "d_")
        word, words = match.group("word"), _said(match.group(0))
        if word in ("since", "from", "starting"):
            return DateSpan(first, None, words)
        if word == "after":
            return DateSpan(_next_day(last), None, words)
        if word == "before":
            return DateSpan(None, _previous_day(first), words)
        if word in ("until", "till", "up to", "by"):
            return DateSpan(None, last, words)
        return DateSpan(first, last, words)
    match = _ONE.search(text)
    if match:
        first, last = _bounds(match.groupdict(), "")
        return DateSpan(first, last, "in " + _said(match.group(0)))
    return None


def _said(words: str) -> str:
    """The words of a span as an answer says them: month names capitalised."""
    return re.sub(rf"\b(?:{_MONTH})\b", lambda m: m.group(0).capitalize(), words)


def _next_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=1)).isoformat()


def _previous_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=1)).isoformat()
