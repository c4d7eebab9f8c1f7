"""Land-cover classes measured per pixel (``terrasight.tasks.semantic``) in the change facts.

Where a change object carries ``from_class`` / ``to_class`` (the majority of its own
pixels in ``change_classes.tif``), its facts take them, in the facts' words
(``building`` is ``built-up``, ``bare`` is ``bare land``), with ``class_source``
``"landcover"`` and the shares as confidences. Objects without them are classified
from a crop by the image-text model (``class_source`` ``"image-text"``).

>>> LANDCOVER_WORDS["building"], LANDCOVER_WORDS["bare"]
('built-up', 'bare land')
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from terrasight.tasks.interpret.facts_data import (
    IMAGE_TEXT,
    LANDCOVER,
    LANDCOVER_CLASSES,
    LANDCOVER_WORDS,
    ObjectFacts,
)

if TYPE_CHECKING:
    from terrasight.tasks.change.result import ChangeObject


def with_measured_classes(f: ObjectFacts, obj: ChangeObject) -> ObjectFacts:
    """``f`` with ``obj``'s measured classes, when it has them.

    Example:
        >>> with_measured_classes(facts, obj).change  # doctest: +SKIP
        'bare land -> built-up'
    """
    if obj.from_class is None or obj.to_class is None:
        return f
    return replace(
        f,
        before_class=LANDCOVER_WORDS.get(obj.from_class, "unknown"),
        before_confidence=obj.from_share,
        after_class=LANDCOVER_WORDS.get(obj.to_class, "unknown"),
        after_confidence=obj.to_share,
        class_source=LANDCOVER,
    )


def with_image_text_classes(
    f: ObjectFacts, before: tuple[str, float], after: tuple[str, float]
) -> ObjectFacts:
    """``f`` with the image-text model's (class, probability) of each date."""
    return replace(
        f,
        before_class=before[0],
        before_confidence=round(before[1], 3),
        after_class=after[0],
        after_confidence=round(after[1], 3),
        class_source=IMAGE_TEXT,
    )


__all__ = [
    "IMAGE_TEXT",
    "LANDCOVER",
    "LANDCOVER_CLASSES",
    "LANDCOVER_WORDS",
    "with_image_text_classes",
    "with_measured_classes",
]
