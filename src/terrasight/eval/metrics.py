"""Binary change metrics: a pooled confusion matrix and the usual scores.

Zero divisions: every score whose denominator is zero is defined as ``0.0``
(e.g. precision when nothing was predicted as change, recall when the truth
has no change, kappa when the expected agreement is 1 because both maps hold
a single class). ``overall_accuracy`` of an empty matrix is ``0.0`` as well.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCORE_NAMES = ("precision", "recall", "f1", "iou", "overall_accuracy", "kappa")


@dataclass(frozen=True)
class ConfusionMatrix:
    """Pixel counts of a binary change map against the truth; ``+`` pools two matrices.

    Example:
        >>> cm = ConfusionMatrix(tp=3, fp=1, fn=2, tn=4) + ConfusionMatrix(1, 0, 0, 5)
        >>> cm, cm.total
        (ConfusionMatrix(tp=4, fp=1, fn=2, tn=9), 16)
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        if not isinstance(other, ConfusionMatrix):
            return NotImplemented
        return ConfusionMatrix(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    def __radd__(self, other: object) -> ConfusionMatrix:
        if other == 0:  # lets sum() pool a list of matrices
            return self
        return NotImplemented

    @property
    def total(self) -> int:
        """Number of pixels counted."""
        return self.tp + self.fp + self.fn + self.tn

    def to_dict(self) -> dict[str, int]:
        """The four counts as a dict."""
        return asdict(self)

    @classmethod
    def from_arrays(
        cls, pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None
    ) -> ConfusionMatrix:
        """Count a prediction against the truth; non-zero is change in both.

        Args:
            pred: predicted change map (any shape; non-zero = change).
            truth: reference map of the same shape (non-zero = change).
            valid: optional boolean map of pixels to count (e.g. ``mask != 255``).

        Raises:
            ValueError: the shapes differ.

        Example:
            >>> ConfusionMatrix.from_arrays(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
            ConfusionMatrix(tp=1, fp=1, fn=1, tn=1)
        """
        pred, truth = np.asarray(pred) != 0, np.asarray(truth) != 0
        if pred.shape != truth.shape or (valid is not None and np.shape(valid) != pred.shape):
            shapes = [pred.shape, truth.shape] + ([np.shape(valid)] if valid is not None else [])
            raise ValueError(f"prediction, truth and valid map differ in shape: {shapes}")
        if valid is not None:
            keep = np.asarray(valid, dtype=bool)
            pred, truth = pred[keep], truth[keep]
        tp = int(np.count_nonzero(pred & truth))
        fp = int(np.count_nonzero(pred & ~truth))
        fn = int(np.count_nonzero(~pred & truth))
        return cls(tp, fp, fn, int(pred.size) - tp - fp - fn)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def scores(cm: ConfusionMatrix) -> dict[str, float]:
    """Precision, recall, F1, IoU, overall accuracy and Cohen's kappa of a confusion matrix.

    A score with a zero denominator is ``0.0`` (see the module docstring).

    Example:
        >>> s = scores(ConfusionMatrix(tp=40, fp=10, fn=20, tn=30))
        >>> s["precision"], s["recall"], round(s["f1"], 4), s["iou"], s["overall_accuracy"]
        (0.8, 0.6666666666666666, 0.7273, 0.5714285714285714, 0.7)
        >>> round(s["kappa"], 4)
        0.4
    """
    tp, fp, fn, tn, n = cm.tp, cm.fp, cm.fn, cm.tn, cm.total
    observed = _ratio(tp + tn, n)
    expected = _ratio((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n) if n else 0.0
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio(tp, tp + fp + fn),
        "overall_accuracy": observed,
        "kappa": _ratio(observed - expected, 1.0 - expected) if n and expected < 1.0 else 0.0,
    }
