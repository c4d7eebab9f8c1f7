import numpy as np
import pytest

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods import cva
from terrasight.tasks.change.methods.cva import CVAOptions
from terrasight.tasks.change.methods.threshold import otsu


def _edges_scene(shift: int):
    """Sharp-edged fields; the after image is the same scene moved by ``shift`` px, plus a change."""
    rng = np.random.default_rng(3)
    h, w = 160, 160
    fields = np.kron(rng.integers(0, 4, (10, 10)), np.ones((16, 16))).astype(np.float32)
    before = np.stack([fields * 40 + 20, fields * 25 + 60, 200 - fields * 30])
    before += rng.normal(0, 2, before.shape).astype(np.float32)
    after = np.roll(before, shift, axis=2) * 0.9 + 5
    truth = np.zeros((h, w), bool)
    truth[60:90, 20:60] = True
    after[:, truth] = np.array([250.0, 10.0, 250.0])[:, None]
    valid = np.ones((h, w), bool)
    return before.astype(np.float32), after.astype(np.float32), valid, truth


def _f1(mask, truth):
    tp = (mask & truth).sum()
    return 2 * tp / (mask.sum() + truth.sum())


def test_tolerance_removes_misregistration_edges():
    b, a, v, truth = _edges_scene(shift=1)
    strict = cva.fit([(b, a, v)], options=CVAOptions(tolerance=0))
    tolerant = cva.fit([(b, a, v)], options=CVAOptions(tolerance=1))
    m0 = strict.probability(b, a, v) >= strict.threshold
    m1 = tolerant.probability(b, a, v) >= tolerant.threshold
    assert _f1(m1, truth) > 0.9
    assert m1.sum() < m0.sum()  # fewer false alarms along the field edges
    assert _f1(m1, truth) >= _f1(m0, truth)


def test_global_light_change_is_not_change():
    b, a, v, truth = _edges_scene(shift=0)
    fitted = cva.fit([(b, a, v)])
    mask = fitted.probability(b, a, v) >= fitted.threshold
    assert mask[~truth].mean() < 0.01 and mask[truth].mean() > 0.9


def test_params_round_trip_and_probability_matches_mask():
    b, a, v, _ = _edges_scene(shift=1)
    fitted = cva.fit([(b, a, v)], options=CVAOptions(tolerance=2))
    again = cva.restore(fitted.params())
    assert again == fitted
    p = again.probability(b, a, v)
    assert p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    mag = again.magnitude(b, a)
    assert np.array_equal(p >= 0.5, mag >= fitted.magnitude_threshold)


def test_options_are_checked_and_converted():
    assert CVAOptions.from_mapping({"tolerance": "2"}) == CVAOptions(tolerance=2)
    assert CVAOptions.from_mapping({}).tolerance == 1
    for bad in (5, -1, "5", 1.5, "one", True, None):
        with pytest.raises(InvalidOptionError) as err:
            CVAOptions.from_mapping({"tolerance": bad})
        msg = str(err.value)
        assert "'tolerance'" in msg and "'cva'" in msg and "an integer from 0 to 2" in msg
    with pytest.raises(InvalidOptionError, match="tolerance"):
        CVAOptions(tolerance=3)
    with pytest.raises(InvalidOptionError) as err:
        CVAOptions.from_mapping({"tolerence": 1})
    assert "unknown option 'tolerence' for change method 'cva'" in str(err.value)
    assert "Did you mean 'tolerance'?" in str(err.value)


def test_otsu_splits_two_modes():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(1, 0.2, 1000), rng.normal(5, 0.5, 200)]
    assert 1.6 < otsu(values) < 4
    assert otsu(np.full(10, 3.0)) == 3.0


def test_sparse_tolerance_gives_the_same_mask_as_the_full_one():
    b, a, v, _ = _edges_scene(shift=1)
    fitted = cva.fit([(b, a, v)], options=CVAOptions(tolerance=1))
    full = fitted.magnitude(b, a)
    cutoff = fitted.magnitude_threshold - 4 * fitted.magnitude_scale
    sparse = fitted.magnitude(b, a, cutoff)
    hit = full >= cutoff
    assert np.allclose(sparse[hit], full[hit], atol=1e-5)
    assert (sparse[~hit] >= full[~hit] - 1e-5).all() and (sparse[~hit] < cutoff).all()
    p = fitted.probability(b, a, v)
    assert np.array_equal(p >= 0.5, full >= fitted.magnitude_threshold)


def _hazy_pair(seed: int = 0):
    """A textured scene with bright (cloud-like) pixels, its next date with another gain
    and offset, and a haze brightening 8% of that date (a disc, not a change on the ground)."""
    rng = np.random.default_rng(seed)
    h, w = 200, 200
    before = rng.gamma(3.0, 200.0, (3, h, w)).astype(np.float32)
    before[:, :20, :20] += 4000  # bright, unchanged
    gain = np.array([0.9, 1.1, 1.05], np.float32)[:, None, None]
    after = before * gain + 30 + rng.normal(0, 8, before.shape).astype(np.float32)
    before += rng.normal(0, 8, before.shape).astype(np.float32)
    yy, xx = np.mgrid[:h, :w]
    haze = np.hypot(yy - 140, xx - 140) < 32
    after[:, haze] += 1500
    return before, after, np.ones((h, w), bool), haze


def test_a_haze_on_one_date_does_not_flag_bright_unchanged_pixels():
    how = "matched"
    before, after, valid, haze = _hazy_pair()
    flagged = {}
    for name in ("mean", how):
        opts = CVAOptions(tolerance=0, otsu=False, standardise=name)
        fitted = cva.fit([(before, after, valid)], options=opts)
        flagged[name] = fitted.probability(before, after, valid) >= fitted.threshold
    bright = np.zeros_like(haze)
    bright[:20, :20] = True
    # The haze inflates the after date's spread: every bright pixel looks changed.
    assert flagged["mean"][bright].mean() > 0.9
    assert flagged[how][bright].mean() < 0.01
    assert flagged[how][~haze].mean() < 0.005
    assert flagged[how][haze].mean() > 0.99


def test_matched_gain_recovers_the_gain_under_a_haze():
    before, after, valid, haze = _hazy_pair(1)
    b, a = before[:, valid].T.astype(np.float64), after[:, valid].T.astype(np.float64)
    gain, offset = cva.matched_gain(b, a, b.std(0))
    assert np.allclose(gain, [0.9, 1.1, 1.05], atol=0.01)
    assert np.allclose(offset, 30, atol=8)


def test_standardise_defaults_to_matched_and_is_checked():
    assert CVAOptions().standardise == "matched"
    assert CVAOptions.from_mapping({"standardise": "mean"}).standardise == "mean"
    with pytest.raises(InvalidOptionError):
        CVAOptions.from_mapping({"standardise": "robust"})
