"""How much of a result the semantic step classified: all of it, or what a budget allowed.

Written into ``change_classes.json`` (:meth:`Coverage.to_dict`) and, where some classes
were left out, said in one sentence (:attr:`Coverage.note`) that also goes into the
result's warnings, the command's output and the report.

Example:
    >>> Coverage(True, 4, 0, 10, 10, 500, 500).to_dict()["complete"]
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from terrasight.tasks.semantic.budget import skipped_note

if TYPE_CHECKING:
    from terrasight.tasks.semantic.budget import WindowBudget
    from terrasight.tasks.semantic.pixels import PixelClasses


@dataclass(frozen=True)
class Coverage:
    """What got classes.

    Attributes:
        complete: every window with changes classified, every object cut by class.
        windows_with_changes, windows_skipped: windows holding changed pixels, and those
            left without classes.
        objects_classified, objects_total: change objects (of the change job) cut by class.
        changed_pixels_classified, changed_pixels: changed pixels with classes, of all.
        budget_s: the budget in seconds (None: none was set).
    """

    complete: bool
    windows_with_changes: int
    windows_skipped: int
    objects_classified: int
    objects_total: int
    changed_pixels_classified: int
    changed_pixels: int
    budget_s: float | None = None

    @classmethod
    def full(cls, pixels: PixelClasses, objects: int, changed: int) -> Coverage:
        """Everything classified."""
        done = int(pixels.transitions.sum())
        return cls(True, pixels.changed_windows, 0, objects, objects, done, changed)

    @classmethod
    def partial(
        cls, pixels: PixelClasses, budget: WindowBudget, changed: int, seconds: float
    ) -> Coverage:
        """What ``budget`` allowed."""
        covered = int(budget.covered.sum())
        total = len(budget.remaining)
        done = int(pixels.transitions.sum())
        return cls(
            False, pixels.changed_windows, budget.skipped, covered, total, done, changed, seconds
        )

    @property
    def share(self) -> float:
        """Share of the changed pixels that have classes."""
        return self.changed_pixels_classified / self.changed_pixels if self.changed_pixels else 1.0

    @property
    def note(self) -> str | None:
        """The sentence to show where classes are missing (None when complete)."""
        if self.complete:
            return None
        return skipped_note(
            self.windows_skipped,
            self.windows_with_changes,
            self.objects_total - self.objects_classified,
            self.objects_total,
            self.share,
            self.budget_s or 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for ``change_classes.json``."""
        return {
            "complete": self.complete,
            "windows_with_changes": self.windows_with_changes,
            "windows_skipped": self.windows_skipped,
            "objects_classified": self.objects_classified,
            "objects_total": self.objects_total,
            "changed_pixels_classified": self.changed_pixels_classified,
            "changed_pixels": self.changed_pixels,
            "classified_share": round(self.share, 4),
            "budget_s": None if self.budget_s is None else round(self.budget_s, 1),
        }
