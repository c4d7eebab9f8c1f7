"""Semantic change: what each changed place was and what it became, and buildings one by one.

``classify_changes(result)`` runs the land-cover network on both dates of a change
result's changed pixels, writes ``change_classes.tif`` (from-class, to-class) and
re-cuts the change objects so that each holds one land-cover change, with new or
removed buildings as separate objects.

>>> ONLY_CLASSES
('building', 'road', 'water', 'vegetation', 'bare')
"""

from terrasight.tasks.semantic.run import (
    ONLY_CLASSES,
    TRANSITIONS_NAME,
    SemanticOptions,
    check_only,
    classify_changes,
)

__all__ = ["ONLY_CLASSES", "TRANSITIONS_NAME", "SemanticOptions", "check_only", "classify_changes"]
