"""The wording of change captions, learned from the LEVIR-CC training captions.

The grammar of a change caption is fixed (``{quantity} {object} {verb} {place}``,
see :mod:`terrasight.tasks.interpret.caption`); which words fill it is chosen
here by how often LEVIR-CC's annotators used each candidate in the training
split: the no-change sentence, the noun for each land-cover class, the words
for quantities, the verbs for appearing and disappearing, and the phrase for
each cell of the 3 x 3 grid. The result is the small JSON file shipped as
``terrasight/tasks/interpret/levir_style.json``; ``terrasight train
caption-style`` makes it again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from terrasight.errors import DatasetLayoutError

CANDIDATES: dict[str, dict[str, tuple[str, ...]]] = {
    "noun": {
        "built-up": ("houses", "buildings", "villas"),
        "road": ("roads", "streets", "paths"),
        "bare land": ("bareland", "desert", "wasteland", "open space"),
        "vegetation": ("trees", "woods", "vegetation", "grass", "forest"),
        "water": ("lake", "river", "pond", "water"),
        "farmland": ("fields", "farmland", "crops"),
        "unknown": ("areas", "parts", "places"),
    },
    "quantity": {
        "1": ("a", "one"),
        "2": ("two",),
        "few": ("some", "several", "a few"),
        "many": ("many", "lots of", "massive"),
    },
    "verb": {
        "appear": ("are built", "appear", "are constructed"),
        "emerge": ("appear", "grow", "are planted"),
        "disappear": ("are removed", "disappear", "are demolished"),
        "vanish": ("disappear", "are gone", "dry up"),
        "change": ("have changed", "are changed"),
    },
    "place": {
        "north-west": ("in the upper left", "on the upper left", "in the top left corner"),
        "north": ("at the top", "on the top", "in the top"),
        "north-east": ("in the upper right", "on the upper right", "in the top right corner"),
        "west": ("on the left", "in the left", "at the left"),
        "centre": ("in the center", "in the middle", "in the centre"),
        "east": ("on the right", "in the right", "at the right"),
        "south-west": ("in the lower left", "on the lower left", "in the bottom left corner"),
        "south": ("at the bottom", "in the bottom", "on the bottom"),
        "south-east": ("in the lower right", "on the lower right", "in the bottom right corner"),
        "spread": ("all over the scene", "across the scene", "everywhere"),
    },
}
"""The grammar's slots: for each, the candidate words or phrases of each key."""

NO_CHANGE_MARKERS = ("no difference", "no change", "nothing has changed", "same as before")


def load_captions(path: str | Path, split: str = "train") -> list[list[str]]:
    """The caption sets (five sentences, tokens joined by spaces) of one LEVIR-CC split.

    Raises:
        DatasetLayoutError: the file is missing or not in LEVIR-CC's JSON layout.

    Example:
        >>> sets = load_captions("data/levir-cc/LevirCCcaptions.json")  # doctest: +SKIP
        >>> sets[0][2]  # doctest: +SKIP
        'the scene is the same as before'
    """
    try:
        images = json.loads(Path(path).read_text(encoding="utf-8"))["images"]
        return [
            [" ".join(s["tokens"]) for s in image["sentences"]]
            for image in images
            if image.get("split") == split
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetLayoutError(
            f"{path}: not LEVIR-CC captions ({exc}); expected levir-cc/LevirCCcaptions.json."
        ) from None


def phrase_counts(sentences: Iterable[str], phrases: Iterable[str]) -> Counter[str]:
    """How many sentences contain each phrase as whole words.

    Example:
        >>> phrase_counts(["many houses are built", "a house"], ["houses", "house"])
        Counter({'houses': 1, 'house': 1})
    """
    wanted = list(phrases)
    counts: Counter[str] = Counter({p: 0 for p in wanted})
    for sentence in sentences:
        padded = f" {sentence} "
        for phrase in wanted:
            if f" {phrase} " in padded:
                counts[phrase] += 1
    return +counts


def most_used(counts: Counter[str], candidates: Sequence[str]) -> str:
    """The most counted candidate (the first listed on a tie or when none was seen)."""
    return max(candidates, key=lambda c: (counts.get(c, 0), -candidates.index(c)))


def learn_style(caption_sets: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The style table from caption sets: the chosen word of each slot, with its counts.

    Example:
        >>> style = learn_style([["the scene is the same as before"], ["many houses are built"]])
        >>> style["no_change"], style["noun"]["built-up"], style["quantity"]["many"]
        ('the scene is the same as before', 'houses', 'many')
    """
    sentences = [s for caption_set in caption_sets for s in caption_set]
    unchanged = Counter(s for s in sentences if any(marker in s for marker in NO_CHANGE_MARKERS))
    style: dict[str, Any] = {
        "source": "LEVIR-CC training captions",
        "caption_sets": len(caption_sets),
        "no_change": max(unchanged, key=lambda s: (unchanged[s], s)) if unchanged else "",
        "counts": {},
    }
    for slot, keys in CANDIDATES.items():
        style[slot] = {}
        for key, candidates in keys.items():
            counts = phrase_counts(sentences, candidates)
            style[slot][key] = most_used(counts, candidates)
            style["counts"][f"{slot}:{key}"] = {c: counts.get(c, 0) for c in candidates}
    return style


def build_style(data: str | Path, out: str | Path) -> Path:
    """Learn the style from ``data/levir-cc/LevirCCcaptions.json`` and write it to ``out``.

    Example:
        >>> build_style("../shared/data", "levir_style.json")  # doctest: +SKIP
        PosixPath('levir_style.json')
    """
    sets = load_captions(Path(data) / "levir-cc" / "LevirCCcaptions.json")
    if not sets:
        raise DatasetLayoutError(f"{data}: LEVIR-CC has no training captions.")
    path = Path(out)
    path.write_text(json.dumps(learn_style(sets), indent=1, sort_keys=True) + "\n")
    return path
