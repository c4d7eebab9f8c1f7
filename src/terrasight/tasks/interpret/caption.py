"""Change captions: one to three sentences about a change, in the style of LEVIR-CC.

The content comes from :class:`~terrasight.tasks.interpret.facts_data.ChangeFacts`
only: objects are grouped by what they became (or stopped being), each group
gives one sentence ``{quantity} {object} {verb} [on the {ground before}] {place}``,
largest groups first. The words are the ones LEVIR-CC's annotators used most
(``levir_style.json``, made by :mod:`terrasight.training.caption_style`).
A result that could not be trusted never gets the no-change sentence.

Example:
    >>> caption_change(facts)  # doctest: +SKIP
    'Many houses are built on the bareland at the top. Some trees are removed on the left.'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from terrasight.tasks.interpret.facts_data import UNKNOWN, ChangeFacts, ObjectFacts

STYLE_FILE = "levir_style.json"
BUILT = ("built-up", "road", "water")
"""Classes whose appearance is always the news (a house on bare land, not bare land under a
house), and which are counted: "two houses are built", "a lake appears"."""
MADE = ("built-up", "road")
"""Classes that are built and removed; the others appear and disappear."""
MAX_SENTENCES = 3
MAIN_SHARE = 0.7
"""A group with this share of its area in one cell is told as being there; otherwise its
two largest cells are named."""
SPREAD_SHARE = 0.5
"""A group whose largest cell holds less than this share of its area, over four or more
cells, is told as spread "across the scene"."""


def load_style() -> dict[str, Any]:
    """The shipped style table (see :mod:`terrasight.training.caption_style`).

    Example:
        >>> load_style()["verb"]["appear"]
        'are built'
    """
    text = resources.files("terrasight.tasks.interpret").joinpath(STYLE_FILE).read_text()
    return dict(json.loads(text))


@dataclass(frozen=True)
class _Group:
    verb: str  # "appear", "disappear" or "change"
    subject: str  # the class told about
    ground: str | None  # what was there before, for "appear"
    objects: tuple[ObjectFacts, ...]

    @property
    def area(self) -> float:
        return sum(o.area for o in self.objects)


def caption_change(
    facts: ChangeFacts, style: dict[str, Any] | None = None, max_sentences: int = MAX_SENTENCES
) -> str:
    """One to ``max_sentences`` sentences saying what changed, where, and how much.

    Example:
        >>> caption_change(facts)  # doctest: +SKIP
        'Some houses are built on the bareland in the upper left.'
    """
    style = style or load_style()
    if facts.unreliable:
        issue = facts.quality_issues[0] if facts.quality_issues else "see the result's warnings"
        lead = "The images could not be fully compared"
        if not facts.objects:
            return f"{lead}, so no change can be told: {issue}."
        sentences = _sentences(facts, style, max_sentences)
        return " ".join(sentences) + f" {lead}: {issue}."
    if not facts.objects:
        return as_sentence(style["no_change"])
    return " ".join(_sentences(facts, style, max_sentences))


def _sentences(facts: ChangeFacts, style: dict[str, Any], limit: int) -> list[str]:
    groups = sorted(_groups(facts.objects), key=lambda g: -g.area)
    return [as_sentence(_words(g, facts, style)) for g in groups[: max(1, limit)]]


def _groups(objects: Sequence[ObjectFacts]) -> list[_Group]:
    keyed: dict[tuple[str, str, str | None], list[ObjectFacts]] = {}
    for o in objects:
        keyed.setdefault(_kind(o), []).append(o)
    return [_Group(v, s, g, tuple(objs)) for (v, s, g), objs in keyed.items()]


def _kind(o: ObjectFacts) -> tuple[str, str, str | None]:
    """(verb, subject, ground) of one object."""
    before, after = o.before_class, o.after_class
    if after == "built-up" and o.shape == "elongated" and before != "road":
        after = "road"
    if after != UNKNOWN and after != before and (after in BUILT or before in (UNKNOWN, after)):
        ground = before if before not in (UNKNOWN, after) else None
        return "appear", after, ground
    if before != UNKNOWN and before != after:
        return "disappear", before, None
    return "change", (before if before == after else UNKNOWN), None


def _words(group: _Group, facts: ChangeFacts, style: dict[str, Any]) -> str:
    count = len(group.objects)
    noun = style["noun"].get(group.subject, style["noun"][UNKNOWN])
    counted = group.subject in BUILT or group.subject == UNKNOWN
    quantity, noun, plural = _quantity(count, noun, style, counted)
    natural = group.subject not in MADE and group.subject != UNKNOWN
    verb = style["verb"][{"appear": "emerge", "disappear": "vanish"}.get(group.verb, group.verb)]
    if not natural:
        verb = style["verb"][group.verb]
    if not plural:
        verb = _singular_verb(verb)
    parts = [quantity, noun, verb]
    if group.ground:
        parts.append(f"on the {style['noun'].get(group.ground, group.ground)}")
    parts.append(_place(group, style))
    return " ".join(p for p in parts if p)


def _quantity(count: int, noun: str, style: dict[str, Any], counted: bool) -> tuple[str, str, bool]:
    """(quantity word, noun in the right number, whether plural); land that is not counted
    (trees, fields, bare land) is "some", whatever the number of patches."""
    q = style["quantity"]
    if not counted:
        return q["few"], noun, noun.endswith("s")
    plural = noun if noun.endswith("s") else noun + "s"
    single = noun[:-1] if noun.endswith("s") else noun
    if count == 1:
        article = q["1"]
        if article == "a" and single[:1] in "aeiou":
            article = "an"
        return article, single, False
    if count == 2:
        return q["2"], plural, True
    return (q["few"] if count <= 5 else q["many"]), plural, True


def _singular_verb(verb: str) -> str:
    """``are built`` -> ``is built``, ``appear`` -> ``appears``, ``have changed`` -> ``has...``."""
    first, _, rest = verb.partition(" ")
    first = {"are": "is", "have": "has"}.get(first, first if rest else first + "s")
    return f"{first} {rest}".strip()


def _place(group: _Group, style: dict[str, Any]) -> str:
    areas: dict[str, float] = {}
    for o in group.objects:
        areas[o.location] = areas.get(o.location, 0.0) + o.area
    ranked = sorted(areas, key=lambda k: -areas[k])
    best = ranked[0]
    if len(areas) >= 4 and areas[best] < SPREAD_SHARE * group.area:
        return str(style["place"]["spread"])
    if len(ranked) == 1 or areas[best] >= MAIN_SHARE * group.area:
        return str(style["place"].get(best, ""))
    return " and ".join(str(style["place"].get(k, "")) for k in ranked[:2])


def as_sentence(text: str) -> str:
    """A tokenised caption as a sentence: capital first letter, no space before punctuation.

    Example:
        >>> as_sentence("some boats are in a port , near a bridge .")
        'Some boats are in a port, near a bridge.'
    """
    words = " ".join(text.split())
    for mark in (".", ",", ";", ":", "!", "?"):
        words = words.replace(f" {mark}", mark)
    words = words[:1].upper() + words[1:]
    return words if words.endswith((".", "!", "?")) else words + "."
