"""Multi-turn questions of the QA benchmark: a question, then a follow-up whose answer
depends on it ("and in the north?", "how large is the biggest of those?", "how large is
it?"). Only the follow-up is scored; its right answer comes from the scene's
:class:`Truth` as for the single questions.
"""

from __future__ import annotations

import random
from typing import Any

from _qa_questions import _pick, _regions
from _qa_truth import Truth

Dialogue = dict[str, Any]

ELSEWHERE = ["and in the {r}?", "what about the {r}?", "how about the {r}?", "and the {r}?"]
BIGGEST = [
    "how large is the biggest of those?",
    "what is the area of the largest of them?",
    "how big is the largest of these?",
]
SIZE_OF_IT = ["how large is it?", "how big is it?", "what is its area?"]


def dialogues_for(truth: Truth, rng: random.Random) -> list[Dialogue]:
    """Two-turn dialogues of one scene: ``turns`` (questions) and the last one's answer."""
    out: list[Dialogue] = []
    r1, r2, r3 = _regions(truth, rng, 3)
    out.append(
        {
            "type": "count",
            "turns": ["how many changes are there?", _pick(rng, ELSEWHERE, r=r1)],
            "truth": len(truth.in_region(r1)),
        }
    )
    out.append(
        {
            "type": "count",
            "turns": [f"how many changes are in the {r2}?", _pick(rng, ELSEWHERE, r=r3)],
            "truth": len(truth.in_region(r3)),
        }
    )
    busy = next((r for r in (r1, r2, r3) if truth.in_region(r)), None)
    if busy:
        biggest = max(c.area for c in truth.in_region(busy))
        out.append(
            {
                "type": "area",
                "turns": [f"how many changes are in the {busy}?", _pick(rng, BIGGEST)],
                "truth": biggest,
                "unit": truth.unit,
            }
        )
    if truth.comps:
        out.append(
            {
                "type": "area",
                "turns": ["where is the largest change?", _pick(rng, SIZE_OF_IT)],
                "truth": truth.comps[0].area,
                "unit": truth.unit,
            }
        )
        where = ["where is the smallest of those?", "where is the smallest one of them?"]
        out.append(
            {
                "type": "location",
                "turns": ["list the changes", _pick(rng, where)],
                "truth": min(truth.comps, key=lambda c: c.area).location,
            }
        )
    share = 100 * sum(c.area for c in truth.in_region(r1)) / truth.region_area(r1)
    out.append(
        {
            "type": "area",
            "turns": ["what percentage of the scene changed?", _pick(rng, ELSEWHERE, r=r1)],
            "truth": share,
            "unit": "%",
        }
    )
    return [{"scene": truth.name, **d} for d in out]
