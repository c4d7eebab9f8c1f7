"""``filtered-cva``: CVA after a median filter, for one band of radar or optical imagery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods import filtered_cva
from terrasight.tasks.change.methods.filtered_cva import FilteredCVAOptions
from terrasight.tasks.change.methods.registry import get_method
from terrasight.tasks.change.pipeline.detect import detect_changes


def _scene(shape=(160, 192), seed: int = 0) -> np.ndarray:
    """Fields of a few brightness levels, smoothed at their borders."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(40, 140, (shape[0] // 32, shape[1] // 32))
    return ndimage.gaussian_filter(np.kron(cells, np.ones((32, 32))), 2)


def _speckled(scene: np.ndarray, seed: int, looks: float = 4.0) -> np.ndarray:
    """8-bit amplitude with ``looks``-look speckle: what a radar export without metadata holds."""
    rng = np.random.default_rng(seed)
    amplitude = scene * np.sqrt(rng.gamma(looks, 1 / looks, scene.shape))
    return amplitude.clip(0, 255).astype(np.uint8)[None]


def _truth(shape=(160, 192)) -> np.ndarray:
    truth = np.zeros(shape, bool)
    truth[50:90, 100:150] = True
    return truth


def test_planted_change_is_found_under_speckle_where_plain_cva_misses_it(make_raster):
    scene, truth = _scene(), _truth()
    changed = np.where(truth, np.minimum(scene * 3, 250), scene)  # a new bright target
    before = make_raster("b.tif", _speckled(scene, 1))
    after = make_raster("a.tif", _speckled(changed, 2))
    result = detect_changes(before, after, method="filtered-cva")
    mask = result.mask() == 1
    assert mask[truth].mean() > 0.9
    assert mask[~truth].sum() == 0
    prob = result.probability()
    assert (prob[mask] >= 0.5).all()  # objects under 20 px are dropped from the mask only
    plain = detect_changes(before, after, method="cva", outdir=before.parent / "plain")
    plain_mask = plain.mask() == 1
    assert plain_mask[truth].mean() < mask[truth].mean() - 0.2  # speckle splits the target


@pytest.mark.parametrize("after_kind", ["identical", "gain_speckle"])
def test_no_change_gives_no_change(make_raster, after_kind):
    scene = _scene()
    before = _speckled(scene, 1)
    after = before.copy() if after_kind == "identical" else _speckled(scene * 1.3, 2)
    result = detect_changes(
        make_raster("b.tif", before), make_raster("a.tif", after), method="filtered-cva"
    )
    assert result.changed_pixels == 0 and len(result.objects) == 0
    assert not result.unreliable


def test_fit_and_restore_give_the_same_probabilities():
    scene, truth = _scene(), _truth()
    before = _speckled(scene, 1).astype(np.float32)
    after = _speckled(np.where(truth, np.minimum(scene * 3, 250), scene), 2).astype(np.float32)
    valid = np.ones(truth.shape, bool)
    for opts in (
        FilteredCVAOptions(),
        FilteredCVAOptions(filter="lee", tolerance=1),
        FilteredCVAOptions(threshold="ki", tolerance=1),
    ):
        fitted = filtered_cva.fit([(before, after, valid)], options=opts)
        again = get_method("filtered-cva").restore(fitted.params(), None)
        p1, p2 = fitted.probability(before, after, valid), again.probability(before, after, valid)
        assert np.array_equal(p1, p2)
        assert (p1 >= 0.5)[truth].mean() > 0.8, opts


def test_filter_removes_specks_not_fields():
    x = np.zeros((1, 9, 9), np.float32)
    x[0, 4, 4] = 100.0  # one bright speck
    x[0, :, :4] += 10.0  # a field covering the left columns
    out = filtered_cva.filter_bands(x, np.ones((9, 9), bool), "median", 3)
    assert out[0, 4, 4] == 0.0
    assert (out[0, :, :3] == 10.0).all()


def test_invalid_pixels_do_not_spread():
    x = np.full((1, 7, 7), 5.0, np.float32)
    x[0, 3, 3] = np.nan
    valid = np.isfinite(x[0])
    out = filtered_cva.filter_bands(x, valid, "mean", 3)
    assert np.isfinite(out).all() and np.allclose(out, 5.0)


def test_even_window_is_refused_with_the_option_named():
    with pytest.raises(InvalidOptionError, match="filter_size"):
        FilteredCVAOptions.from_mapping({"filter_size": "4"})
    with pytest.raises(InvalidOptionError, match="filter"):
        FilteredCVAOptions.from_mapping({"filter": "gauss"})


def test_unknown_threshold_is_refused_with_the_choices():
    with pytest.raises(InvalidOptionError, match="'otsu', 'ki', 'floor'"):
        FilteredCVAOptions.from_mapping({"threshold": "mean"})


def test_windows_give_the_same_mask_as_one_window(make_raster):
    scene, truth = _scene((320, 320)), np.zeros((320, 320), bool)
    truth[240:300, 230:290] = True  # across the border of 256 px windows
    before = make_raster("b.tif", _speckled(scene, 1))
    after = make_raster("a.tif", _speckled(np.where(truth, np.minimum(scene * 3, 250), scene), 2))
    one = detect_changes(before, after, method="filtered-cva", tile_size=512)
    tiled = detect_changes(
        before, after, method="filtered-cva", tile_size=256, outdir=before.parent / "tiled"
    )
    assert one.params == tiled.params  # the same fit: the sample does not depend on windows
    assert np.array_equal(one.mask(), tiled.mask())
    assert (one.mask() == 1)[truth].mean() > 0.9
