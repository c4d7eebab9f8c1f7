import numpy as np
import pytest

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change import cva
from terrasight.tasks.change.cva import CVAOptions
from terrasight.tasks.change.threshold import otsu


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
