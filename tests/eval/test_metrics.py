"""Confusion matrix and scores on small hand-checked arrays."""

import numpy as np
import pytest

from terrasight.eval.metrics import SCORE_NAMES, ConfusionMatrix, scores


def test_from_arrays_counts_by_hand():
    pred = np.array([[1, 1, 0], [0, 255, 0]])  # non-zero (255 too) is change
    truth = np.array([[1, 0, 1], [0, 0, 0]])
    assert ConfusionMatrix.from_arrays(pred, truth) == ConfusionMatrix(tp=1, fp=2, fn=1, tn=2)


def test_from_arrays_valid_mask_leaves_pixels_out():
    pred = np.array([1, 1, 0, 0, 1])
    truth = np.array([1, 0, 1, 0, 1])
    valid = np.array([True, True, True, True, False])
    cm = ConfusionMatrix.from_arrays(pred, truth, valid)
    assert cm == ConfusionMatrix(1, 1, 1, 1) and cm.total == 4


def test_from_arrays_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        ConfusionMatrix.from_arrays(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        ConfusionMatrix.from_arrays(np.zeros(4), np.zeros(4), np.ones(3, bool))


def test_scores_by_hand():
    # tp=40 fp=10 fn=20 tn=30, n=100
    s = scores(ConfusionMatrix(tp=40, fp=10, fn=20, tn=30))
    assert s["precision"] == pytest.approx(40 / 50)
    assert s["recall"] == pytest.approx(40 / 60)
    assert s["f1"] == pytest.approx(80 / 110)
    assert s["iou"] == pytest.approx(40 / 70)
    assert s["overall_accuracy"] == pytest.approx(0.7)
    # p_o = 0.7; p_e = (50*60 + 50*40) / 100^2 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    assert s["kappa"] == pytest.approx(0.4)
    assert tuple(s) == SCORE_NAMES


def test_kappa_of_perfect_and_of_chance_agreement():
    assert scores(ConfusionMatrix(5, 0, 0, 5))["kappa"] == pytest.approx(1.0)
    # Independent maps, each half change: agreement = chance -> kappa 0.
    assert scores(ConfusionMatrix(25, 25, 25, 25))["kappa"] == pytest.approx(0.0)
    # Systematic disagreement gives a negative kappa.
    assert scores(ConfusionMatrix(0, 5, 5, 0))["kappa"] == pytest.approx(-1.0)


def test_zero_divisions_are_zero():
    empty = scores(ConfusionMatrix())
    assert all(v == 0.0 for v in empty.values())
    # Nothing predicted, nothing true: precision, recall, f1, iou undefined -> 0;
    # accuracy 1; kappa undefined (expected agreement 1) -> 0.
    s = scores(ConfusionMatrix(tp=0, fp=0, fn=0, tn=10))
    assert (s["precision"], s["recall"], s["f1"], s["iou"]) == (0.0, 0.0, 0.0, 0.0)
    assert s["overall_accuracy"] == 1.0 and s["kappa"] == 0.0
    # Nothing predicted but change present: precision 0 (no division error), recall 0.
    s = scores(ConfusionMatrix(tp=0, fp=0, fn=4, tn=6))
    assert s["precision"] == 0.0 and s["recall"] == 0.0 and s["kappa"] == 0.0


def test_pooling_is_the_sum():
    a, b = ConfusionMatrix(1, 2, 3, 4), ConfusionMatrix(10, 20, 30, 40)
    assert a + b == ConfusionMatrix(11, 22, 33, 44)
    assert sum([a, b]) == a + b
    pred = np.array([1, 0, 1, 1, 0, 0])
    truth = np.array([1, 1, 0, 1, 0, 1])
    whole = ConfusionMatrix.from_arrays(pred, truth)
    halves = ConfusionMatrix.from_arrays(pred[:3], truth[:3]) + ConfusionMatrix.from_arrays(
        pred[3:], truth[3:]
    )
    assert whole == halves
    # Pooled F1 is not the mean of the parts' F1.
    assert scores(a + b)["f1"] == pytest.approx(2 * 11 / (2 * 11 + 22 + 33))
