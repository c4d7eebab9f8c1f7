"""``terrasight demo``'s scores: a true change with no answer (cloud, nodata) counts as missed."""

from __future__ import annotations

import numpy as np

from terrasight.cli.demo import _echo_scores


def test_masked_true_change_counts_as_missed(make_raster, capsys) -> None:
    truth = np.zeros((32, 40), np.uint8)
    truth[4:14, 4:14] = 1  # 100 true-change pixels
    mask = np.zeros((32, 40), np.uint8)
    mask[4:14, 4:9] = 1  # half of them found...
    mask[4:14, 9:14] = 255  # ...the other half masked as cloud
    mask[20:30, 20:30] = 255  # and masked pixels without change
    _echo_scores(mask, make_raster("truth.tif", truth))
    out = capsys.readouterr().out
    assert "precision 1.000, recall 0.500" in out
    assert "50 of 100 true-change pixels had no answer" in out
