"""The slots of a question: classes gained or lost, places, sizes, shapes, numbers, units.

Each ``find_*`` takes a normalised question (lower case, see
:func:`~terrasight.tasks.interpret.ask_parse.normalise`) and returns plain values.

Example:
    >>> find_classes("did the forest turn into fields?")
    (('vegetation',), ('farmland',), (), 'after')
    >>> [r.cells for r in find_regions("more change in the east or the upper left?")]
    [('north-east', 'east', 'south-east'), ('north-west',)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from terrasight.tasks.interpret.ask_words import (
    CLASS_WORDS,
    DIRECTION_WORDS,
    ENGLISH,
    LENGTH_UNITS,
    LOST_WORDS,
    NEW_WORDS,
    NUMBER_WORDS,
    SIDES,
    TRANSITION,
    UNITS,
    VERB_CLASSES,
)
from terrasight.tasks.interpret.vocabulary import CELL_NAMES, DIRECTIONS

_NUMBER = r"(\d[\d,]*(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")"
_AREA_UNIT = (
    r"(m2|square met(?:re|er)s?|sq\.? ?m|hectares?|ha|km2|square kilomet(?:re|er)s?|pixels?|px"
    r"|acres?)"
)
_UNIT_OF = {"m": "m2", "s": "m2", "h": "ha", "k": "km2", "p": "px", "a": "acre"}
_BEFORE_WORDS = (
    r"\bbefore\b|\bused to\b|\boriginally\b|\bprevious(?:ly)?\b|\bformerly\b|\bat first\b"
)


@dataclass(frozen=True)
class Region:
    """A place named in a question: its words and the 3 x 3 grid cells it covers.

    Example:
        >>> Region("the north", DIRECTIONS["north"]).cells
        ('north-west', 'north', 'north-east')
    """

    name: str
    cells: tuple[str, ...]


def is_english(text: str) -> bool:
    """Whether a normalised question reads as English: mostly ASCII letters and at least
    one English or slot word.

    Example:
        >>> is_english("how many new houses?"), is_english("wie viele neue Häuser?")
        (True, False)
    """
    words = re.findall(r"[^\W\d_]+", text)
    if not words:
        return False
    foreign = sum(1 for w in words if not w.isascii())
    if foreign / len(words) > 0.3:
        return False
    slot_words = "|".join([*CLASS_WORDS.values(), NEW_WORDS, LOST_WORDS, r"north|south|east|west"])
    return any(w in ENGLISH for w in words) or bool(re.search(rf"\b(?:{slot_words})\b", text))


def find_numbers(text: str) -> tuple[str, dict[str, Any]]:
    """Area filters, a count threshold and a listing limit; the text without them.

    Example:
        >>> find_numbers("changes larger than 2 ha")[1]["min_area"]
        (2.0, 'ha')
        >>> find_numbers("are there more than five changes?")[1]["count_threshold"]
        ('>', 5)
    """
    out: dict[str, Any] = {
        "min_area": None,
        "max_area": None,
        "count_threshold": None,
        "limit": None,
        "extreme": None,
    }
    area = re.compile(
        rf"\b(larger|bigger|greater|more|over|above|at least|smaller|less|under|below|at most)"
        rf"(?: than)? (?:an area of )?{_NUMBER} ?{_AREA_UNIT}"
    )
    for m in area.finditer(text):
        value = (_number(m.group(2)), _UNIT_OF[m.group(3)[0]])
        key = (
            "min_area"
            if m.group(1) in ("larger", "bigger", "greater", "more", "over", "above", "at least")
            else "max_area"
        )
        out[key] = value
    text = area.sub(" ", text)
    count = re.search(
        rf"\b(more than|over|at least|fewer than|less than|under|exactly)\s+{_NUMBER}\b"
        r"(?!\s*(?:%|per|m2|ha|hect|km|square|pixel|px))",
        text,
    )
    if count:
        op = {"more than": ">", "over": ">", "at least": ">=", "exactly": "=="}.get(
            count.group(1), "<"
        )
        out["count_threshold"] = (op, int(_number(count.group(2))))
        text = text.replace(count.group(0), " ")
    ranked = re.search(rf"\b(?:the |top )?{_NUMBER} (largest|biggest|smallest)\b", text)
    if ranked:
        out["limit"] = int(_number(ranked.group(1)))
    extreme = re.search(r"\b(largest|biggest|greatest|smallest)\b", text)
    if extreme:
        out["extreme"] = "smallest" if extreme.group(1) == "smallest" else "largest"
    return text, out


def _number(word: str) -> float:
    return float(NUMBER_WORDS[word]) if word in NUMBER_WORDS else float(word.replace(",", ""))


def _class_hits(text: str) -> list[tuple[int, str]]:
    """(position, class) of every class word, in order."""
    hits = []
    for name, pattern in CLASS_WORDS.items():
        hits += [(m.start(), name) for m in re.finditer(rf"\b(?:{pattern})\b", text)]
    return sorted(hits)


def find_classes(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """(was, became, involves, target) of a question's land-cover classes.

    ``was``: lost classes, ``became``: gained ones, ``involves``: either; ``target``
    the date a class question asks about (``"before"`` when it names what became
    of something, "what became water?").

    Example:
        >>> find_classes("what did the woods become?")
        (('vegetation',), (), (), 'after')
        >>> find_classes("how many houses were demolished?")
        (('built-up',), (), (), 'after')
        >>> find_classes("what was built?")
        ((), ('built-up', 'road'), (), 'after')
    """
    hits = _class_hits(text)
    turn = re.search(rf"\b(?:{TRANSITION})\b", text)
    if hits and turn:
        was = _unique(c for p, c in hits if p < turn.start())
        became = _unique(c for p, c in hits if p > turn.start())
        return was, became, (), "before" if became and not was else "after"
    replaced = re.search(r"\bwhat (?:has )?replaced\b", text)
    if hits and replaced:
        return _unique(c for _, c in hits), (), (), "after"
    if hits:
        classes = _unique(c for _, c in hits)
        new = bool(re.search(rf"\b(?:{NEW_WORDS})\b", text))
        lost = bool(re.search(rf"\b(?:{LOST_WORDS})\b|\breplaced\b", text))
        if new and not lost:
            return (), classes, (), "before"
        if lost and not new:
            return classes, (), (), "after"
        return (), (), classes, "before" if re.search(_BEFORE_WORDS, text) else "after"
    return _verb_classes(text)


def _verb_classes(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """Classes named by a verb alone: "was anything flooded?", "what was built?"."""
    for pattern, (name, polarity) in VERB_CLASSES.items():
        if re.search(rf"\b(?:{pattern})\b", text):
            classes = ("built-up", "road") if name == "built-up" else (name,)
            lost = polarity == "lost" or (
                not polarity and re.search(rf"\b(?:{LOST_WORDS})\b|demolish|torn down", text)
            )
            if lost:
                return classes[:1], (), (), "after"
            return (), classes, (), "after" if name == "built-up" else "before"
    target = "before" if re.search(_BEFORE_WORDS, text) else "after"
    return (), (), (), target


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def find_regions(text: str) -> tuple[Region, ...]:
    """The places a question names, in order, each once.

    Example:
        >>> [r.name for r in find_regions("is the north more changed than the south-west?")]
        ['the north', 'the south-west']
        >>> find_regions("changes on the left side")[0].cells
        ('north-west', 'west', 'south-west')
    """
    found: list[tuple[int, int, str]] = []
    for pattern, template in DIRECTION_WORDS:
        for m in re.finditer(rf"\b{pattern}", text):
            if any(s < m.end() and m.start() < e for s, e, _ in found):
                continue
            if re.match(r"the top \d|the top (?:one|two|three|four|five|ten)\b", text[m.start() :]):
                continue
            words = [SIDES.get(g, g) for g in m.groups() if g]
            found.append((m.start(), m.end(), template.format(*words)))
    out: dict[str, Region] = {}
    for _, _, name in sorted(found):
        cells = DIRECTIONS.get(name, (name,)) if name in DIRECTIONS or name in CELL_NAMES else ()
        if cells and name not in out:
            out[name] = Region(f"the {name}", tuple(cells))
    return tuple(out.values())


def find_size(text: str) -> str | None:
    """``"large"`` or ``"small"`` when the question limits the changes by size words.

    Example:
        >>> find_size("list the big changes"), find_size("how large is it?")
        ('large', None)
    """
    text = re.sub(r"\bhow (?:large|big|small)\b", " ", text)
    if re.search(r"\b(?:large|big|huge|major|sizeable|substantial)\b", text):
        return "large"
    if re.search(r"\b(?:small|tiny|little|minor)\b", text):
        return "small"
    return None


def find_shape(text: str) -> str | None:
    """``"elongated"`` or ``"compact"`` when the question names a shape.

    Example:
        >>> find_shape("which objects are elongated?"), find_shape("square metres")
        ('elongated', None)
    """
    text = re.sub(rf"\b(?:{UNITS['m2']}|{UNITS['km2']}|{UNITS['mi2']})", " ", text)
    if re.search(r"\b(?:elongated|long|linear|thin|narrow|strip-?like|strips?)\b", text):
        return "elongated"
    if re.search(r"\b(?:compact|round|roundish|square|blocky|squat)\b", text):
        return "compact"
    return None


def find_length_unit(text: str) -> str | None:
    """The length unit a question of length asks for (``m``, ``km``, ``mi``, ``px``).

    Example:
        >>> find_length_unit("how long is it in miles?"), find_length_unit("how long is it?")
        ('mi', None)
    """
    for unit, pattern in LENGTH_UNITS.items():
        if re.search(pattern, text):
            return unit
    return None


def find_unit(text: str) -> str | None:
    """The area unit a question asks for (``m2``, ``ha``, ``km2``, ``px``, ``%``).

    Example:
        >>> find_unit("how much changed, in hectares?"), find_unit("what share of the scene?")
        ('ha', '%')
    """
    text = re.sub(
        rf"\b(?:larger|bigger|smaller|over|under|above|below)(?: than)? {_NUMBER} ?{_AREA_UNIT}",
        " ",
        text,
    )
    for unit, pattern in UNITS.items():
        if re.search(pattern, text):
            return unit
    return None
