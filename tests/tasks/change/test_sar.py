"""The SAR change method: planted changes on speckled pairs, no change where there is none."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods import sar
from terrasight.tasks.change.methods.sar import SAROptions
from terrasight.tasks.change.pipeline.detect import detect_changes


def _field(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """A backscatter scene: smooth fields of a few intensity levels."""
    rng = np.random.default_rng(seed)
    levels = np.kron(rng.uniform(0.02, 0.3, (shape[0] // 32, shape[1] // 32)), np.ones((32, 32)))
    return ndimage.gaussian_filter(levels, 2)


def _speckled(scene: np.ndarray, seed: int, looks: float = 4.0) -> np.ndarray:
    """``looks``-look intensity speckle (gamma, mean 1) times the scene, float32."""
    rng = np.random.default_rng(seed)
    return (scene * rng.gamma(looks, 1 / looks, scene.shape)).astype(np.float32)


def _pair(shape=(192, 224), bands: int = 1, gain: float = 1.0):
    """Before and after intensity images (bands, h, w) with fresh speckle, and a truth mask."""
    scene = np.stack([_field(b, shape) for b in range(bands)])
    before = _speckled(scene, 1)
    after = _speckled(scene, 2) * np.float32(gain)
    truth = np.zeros(shape, bool)
    truth[60:110, 90:150] = True
    return before, after, truth


def test_planted_decrease_is_found_in_one_band(make_raster):
    before, after, truth = _pair()
    after[:, truth] *= 0.1  # flooded: the backscatter drops by 10 dB
    result = detect_changes(make_raster("b.tif", before), make_raster("a.tif", after), method="sar")
    mask = result.mask() == 1
    assert mask[truth].mean() > 0.9
    assert mask[~truth].mean() < 0.01
    prob = result.probability()
    assert 0.0 <= np.nanmin(prob) and np.nanmax(prob) <= 1.0
    assert np.array_equal(prob >= 0.5, mask)


@pytest.mark.parametrize("after_kind", ["identical", "gain_speckle"])
def test_no_change_gives_no_change(make_raster, after_kind):
    before, after, _ = _pair(gain=1.6)  # a calibration gain of 2 dB and fresh speckle
    after = before.copy() if after_kind == "identical" else after
    result = detect_changes(make_raster("b.tif", before), make_raster("a.tif", after), method="sar")
    assert result.changed_pixels == 0 and len(result.objects) == 0
    assert not result.unreliable
    identical_note = any("identical" in w for w in result.warnings)
    assert identical_note == (after_kind == "identical")


def test_two_polarisations_and_direction(make_raster):
    before, after, truth = _pair(bands=2)
    after[:, truth] *= 0.15
    b = make_raster("b.tif", before)
    a = make_raster("a.tif", after)
    both = detect_changes(b, a, method="sar").mask() == 1
    assert both[truth].mean() > 0.9 and both[~truth].mean() < 0.01
    brighter = detect_changes(b, a, method="sar", method_options={"direction": "increase"})
    assert brighter.changed_pixels == 0


def test_db_and_linear_inputs_give_the_same_mask():
    before, after, truth = _pair()
    after[:, truth] *= 0.1
    valid = np.ones(truth.shape, bool)
    linear = sar.fit([(before, after, valid)])
    db_b, db_a = (10 * np.log10(x) for x in (before, after))
    in_db = sar.fit([(db_b, db_a, valid)])
    assert in_db.db and not linear.db
    m_lin = linear.probability(before, after, valid) >= linear.threshold
    m_db = in_db.probability(db_b, db_a, valid) >= in_db.threshold
    assert (m_lin != m_db).mean() < 0.001
    assert m_db[truth].mean() > 0.9


def test_windows_agree_with_the_whole_image(make_raster):
    """The filter sees the same context across window borders (the spec's overlap)."""
    before, after, truth = _pair(shape=(544, 544))
    after[:, 250:300, 240:290] *= 8.0  # a change across the 256 px window border
    result = detect_changes(
        make_raster("b.tif", before),
        make_raster("a.tif", after),
        method="sar",
        tile_size=256,
        min_pixels=0,
    )
    fitted = sar.restore(result.params)
    whole = fitted.probability(before, after, np.ones(truth.shape, bool)) >= fitted.threshold
    assert np.array_equal(result.mask() == 1, whole)
    assert whole[250:300, 240:290].mean() > 0.9


def test_options_are_typed_and_checked():
    assert SAROptions.from_mapping({"filter_size": "7"}).filter_size == 7
    with pytest.raises(InvalidOptionError, match="Did you mean 'filter_size'"):
        SAROptions.from_mapping({"filter_sise": 5})
    with pytest.raises(InvalidOptionError, match="odd"):
        SAROptions(filter_size=4)
    assert SAROptions.from_mapping({"threshold": "floor"}).threshold == "floor"
    with pytest.raises(InvalidOptionError, match="'lee'"):
        SAROptions.from_mapping({"filter": "gauss"})


def test_params_round_trip():
    before, after, truth = _pair()
    after[:, truth] *= 5
    valid = np.ones(truth.shape, bool)
    for filt in ("lee", "median", "mean", "none"):
        size = 1 if filt == "none" else 5
        fitted = sar.fit(
            [(before, after, valid)], options=SAROptions(filter=filt, filter_size=size)
        )
        again = sar.restore(fitted.params())
        assert again == fitted
        p = again.probability(before, after, valid)
        assert p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
        if filt != "none":  # unfiltered 4-look speckle hides a 7 dB change in its noise
            assert (p >= 0.5)[truth].mean() > 0.9, filt


def test_real_sar_pairs(shared_data, tmp_path):
    """The Bern (selection) and Sulzberger pairs: kappa well above the other methods' 0.65-0.88."""
    from terrasight.eval.sensors import SAR_PAIRS, sar_pair, score_mask

    root = shared_data / "change" / "sar"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    for name in SAR_PAIRS:
        pair = sar_pair(root, name, tmp_path / name)
        with rasterio.open(pair.before) as ds:
            assert ds.count == 1 and ds.descriptions == (None,)
        scores = score_mask(
            detect_changes(pair.before, pair.after, "sar").mask(), pair.read_truth()
        )
        assert scores["kappa"] > 0.8, (name, scores)
