"""Questions of the QA benchmark and their right answers, from a scene's :class:`Truth`.

Questions are made from templates with paraphrases, each place said several
ways, picked by a seeded random generator, so a run asks the same questions
every time.
"""

from __future__ import annotations

import random
from typing import Any

from _qa_truth import AFTER_CLASS, BEFORE_CLASS, REGIONS, SAID, Truth

Question = dict[str, Any]


def _pick(rng: random.Random, options: list[str], **slots: str) -> str:
    """A paraphrase with each place said one of its ways."""
    said = {k: rng.choice(SAID.get(v, [v])) for k, v in slots.items()}
    return rng.choice(options).format(**said)


def questions_for(truth: Truth, rng: random.Random) -> list[Question]:
    """The benchmark questions of one scene with their expected answers."""
    out: list[Question] = []
    out += _presence(truth, rng) + _count(truth, rng) + _area(truth, rng)
    out += _location(truth, rng) + _comparison(truth, rng) + _listing(truth, rng)
    out += _unanswerable(truth, rng)
    if truth.comps and truth.comps[0].kind is not None:
        out += _classes(truth, rng)
    return [{"scene": truth.name, **q} for q in out]


def _regions(truth: Truth, rng: random.Random, k: int) -> list[str]:
    """``k`` places, about half of them with change where possible."""
    names = list(REGIONS)
    rng.shuffle(names)
    busy = [r for r in names if truth.in_region(r)]
    empty = [r for r in names if not truth.in_region(r)]
    chosen = busy[: (k + 1) // 2] + empty[: k // 2]
    return (chosen + [r for r in names if r not in chosen])[:k]


def _presence(truth: Truth, rng: random.Random) -> list[Question]:
    whole = [
        "has anything changed?",
        "did anything change between the two images?",
        "is there any change?",
        "were there any changes at all?",
        "tell me if the place looks different now",
    ]
    local = [
        "has anything changed in the {r}?",
        "is there any change in the {r}?",
        "did anything change in the {r}?",
        "are there changes in the {r}?",
    ]
    out = [{"type": "presence", "question": _pick(rng, whole), "truth": bool(truth.comps)}]
    for r in _regions(truth, rng, 3):
        out.append(
            {
                "type": "presence",
                "question": _pick(rng, local, r=r),
                "truth": bool(truth.in_region(r)),
            }
        )
    return out


def _count(truth: Truth, rng: random.Random) -> list[Question]:
    whole = [
        "how many changes are there?",
        "how many changed areas are there?",
        "what is the number of changes?",
        "count the changes",
        "give me a tally of the changed patches",
    ]
    local = [
        "how many changes are in the {r}?",
        "how many changed areas are there in the {r}?",
        "what is the number of changes in the {r}?",
        "count the changes in the {r}",
    ]
    out = [{"type": "count", "question": _pick(rng, whole), "truth": len(truth.comps)}]
    for r in _regions(truth, rng, 3):
        out.append(
            {"type": "count", "question": _pick(rng, local, r=r), "truth": len(truth.in_region(r))}
        )
    return out


def _area(truth: Truth, rng: random.Random) -> list[Question]:
    total = sum(c.area for c in truth.comps)
    amount = [
        "how much area changed?",
        "what is the total changed area?",
        "how large is the changed area?",
        "tell me the amount of land that changed",
    ]
    share = [
        "what percentage of the scene changed?",
        "what share of the image changed?",
        "what fraction of the area is changed, in percent?",
        "how much of the scene changed, as a percentage?",
    ]
    largest = ["how large is the largest change?", "what is the area of the biggest change?"]
    out = [
        {"type": "area", "question": _pick(rng, amount), "truth": total, "unit": truth.unit},
        {
            "type": "area",
            "question": _pick(rng, share),
            "truth": 100 * total / truth.scene_area,
            "unit": "%",
        },
    ]
    if truth.comps:
        out.append(
            {
                "type": "area",
                "question": _pick(rng, largest),
                "truth": truth.comps[0].area,
                "unit": truth.unit,
            }
        )
    region = _regions(truth, rng, 1)[0]
    in_region = sum(c.area for c in truth.in_region(region))
    out.append(
        {
            "type": "area",
            "question": _pick(rng, ["what percentage of the {r} changed?"], r=region),
            "truth": 100 * in_region / truth.region_area(region),
            "unit": "%",
        }
    )
    if truth.unit == "m2":
        hectares = ["how many hectares changed?", "how much changed, in hectares?"]
        out.append(
            {"type": "area", "question": _pick(rng, hectares), "truth": total / 1e4, "unit": "ha"}
        )
    return out


def _location(truth: Truth, rng: random.Random) -> list[Question]:
    if not truth.comps:
        return []
    largest = [
        "where is the largest change?",
        "where is the biggest changed area?",
        "in which part of the image is the largest change?",
        "which part of the scene has the biggest change?",
    ]
    most = [
        "where did most change happen?",
        "where is most of the change?",
        "which part of the image changed most?",
        "in which area are most changes located?",
        "the bulk of the change lies in which direction?",
    ]
    by_cell: dict[str, float] = {}
    for c in truth.comps:
        by_cell[c.location] = by_cell.get(c.location, 0.0) + c.area
    return [
        {"type": "location", "question": _pick(rng, largest), "truth": truth.comps[0].location},
        {
            "type": "location",
            "question": _pick(rng, most),
            "truth": max(by_cell, key=by_cell.__getitem__),
        },
        {
            "type": "location",
            "question": "where is the smallest change?",
            "truth": truth.comps[-1].location,
        },
    ]


PAIRS = [
    ("north", "south"),
    ("east", "west"),
    ("north-west", "south-east"),
    ("north-east", "south-west"),
    ("centre", "north"),
    ("west", "centre"),
    ("south", "east"),
]


def _comparison(truth: Truth, rng: random.Random) -> list[Question]:
    texts = [
        "is there more change in the {a} or the {b}?",
        "did the {a} or the {b} change more?",
        "is the {a} more changed than the {b}?",
        "which changed more, the {a} or the {b}?",
    ]
    out = []
    pairs = PAIRS[:]
    rng.shuffle(pairs)
    for a, b in pairs:
        area_a = sum(c.area for c in truth.in_region(a))
        area_b = sum(c.area for c in truth.in_region(b))
        if area_a == area_b:
            continue
        winner = a if area_a > area_b else b
        out.append(
            {
                "type": "comparison",
                "question": _pick(rng, texts, a=a, b=b),
                "truth": f"the {winner}",
            }
        )
        if len(out) == 3:
            break
    return out


def _listing(truth: Truth, rng: random.Random) -> list[Question]:
    texts = [
        "list the changes in the {r}",
        "show me the changes in the {r}",
        "enumerate each changed patch in the {r}",
        "which changes are in the {r}?",
        "give me all changes in the {r}",
    ]
    out = [
        {"type": "listing", "question": _pick(rng, texts, r=r), "truth": len(truth.in_region(r))}
        for r in _regions(truth, rng, 2)
    ]
    out.append(
        {
            "type": "listing",
            "question": rng.choice(["list every change", "list all the changes"]),
            "truth": len(truth.comps),
        }
    )
    return out


def _unanswerable(truth: Truth, rng: random.Random) -> list[Question]:
    texts = [
        "how many cars are in the {r}?",
        "what will this place look like in 2030?",
        "why did the {r} change?",
        "how many ships are there?",
        "what changed since the third image?",
        "were any solar panels installed?",
        "what did the {r} look like in 1990?",
    ]
    if truth.comps and truth.comps[0].kind is None:
        texts.append("what was built?")  # land cover is not classified on these scenes
    r = _regions(truth, rng, 1)[0]
    return [
        {"type": "unanswerable", "question": _pick(rng, [q], r=r), "truth": None}
        for q in rng.sample(texts, 2)
    ]


def _classes(truth: Truth, rng: random.Random) -> list[Question]:
    """Questions on the demo pair's land cover (only there is it known)."""

    def area(kinds: set[str]) -> float:
        return sum(c.area for c in truth.comps if c.kind in kinds)

    def count(kinds: set[str]) -> int:
        return sum(1 for c in truth.comps if c.kind in kinds)

    veg = {k for k, v in BEFORE_CLASS.items() if v == "vegetation"}
    became = max(veg, key=lambda k: area({k}))
    return [
        {
            "type": "presence",
            "question": _pick(rng, ["are there new buildings?", "were houses built?"]),
            "truth": count({"built_up"}) > 0,
        },
        {"type": "presence", "question": "was any land flooded?", "truth": count({"flood"}) > 0},
        {
            "type": "presence",
            "question": _pick(rng, ["did the forest shrink?", "was vegetation lost?"]),
            "truth": count(veg) > 0,
        },
        {"type": "presence", "question": "are there new roads?", "truth": False},
        {
            "type": "count",
            "question": "how many new buildings are there?",
            "truth": count({"built_up"}),
        },
        {
            "type": "area",
            "question": "how much land was flooded, in hectares?",
            "truth": area({"flood"}) / 1e4,
            "unit": "ha",
        },
        {
            "type": "class",
            "question": _pick(
                rng, ["what did the vegetation become?", "what did the trees turn into?"]
            ),
            "truth": AFTER_CLASS[became],
        },
        {
            "type": "class",
            "question": _pick(rng, ["what was built?", "what was constructed?"]),
            "truth": "built-up",
        },
        {
            "type": "class",
            "question": "what was there before the new buildings?",
            "truth": "vegetation",
        },
        *_what_became(truth, rng),
    ]


def _what_became(truth: Truth, rng: random.Random) -> list[Question]:
    """ "What did the <place of the largest change> turn into?": its main class after."""
    place = truth.comps[0].location
    after: dict[str, float] = {}
    for c in truth.in_region(place):
        after[AFTER_CLASS[c.kind or ""]] = after.get(AFTER_CLASS[c.kind or ""], 0.0) + c.area
    texts = ["what did the {r} turn into?", "what did the land in the {r} become?"]
    return [
        {
            "type": "class",
            "question": _pick(rng, texts, r=place),
            "truth": max(after, key=after.__getitem__),
        }
    ]
