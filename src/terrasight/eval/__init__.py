"""Evaluate change detection against labelled datasets: metrics, dataset layouts, runs;
and caption metrics (:mod:`terrasight.eval.captions`).

Example:
    >>> from terrasight.eval import evaluate_change
    >>> report = evaluate_change("../shared/data/change/airchange", "airchange")  # doctest: +SKIP
    >>> report.scores["f1"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from terrasight.eval.captions import CaptionScores, score_captions
from terrasight.eval.datasets import AIRCHANGE_TEST_WINDOW, ChangePair, iter_pairs, list_pairs
from terrasight.eval.metrics import ConfusionMatrix, scores

__all__ = [
    "AIRCHANGE_TEST_WINDOW",
    "CaptionScores",
    "ChangePair",
    "ConfusionMatrix",
    "EvalReport",
    "PairScore",
    "evaluate_change",
    "iter_pairs",
    "list_pairs",
    "score_captions",
    "scores",
]


def __getattr__(name: str) -> Any:
    # Lazy: evaluate_change pulls in the whole change pipeline; metrics alone should not.
    if name in ("EvalReport", "PairScore", "evaluate_change"):
        from terrasight.eval import change

        return getattr(change, name)
    raise AttributeError(f"module 'terrasight.eval' has no attribute {name!r}")
