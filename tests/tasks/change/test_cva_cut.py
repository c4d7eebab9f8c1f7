"""cva's cut above the noise floor (``threshold``): one large change must not hide the others."""

from __future__ import annotations

import numpy as np
import pytest
from tests.tasks.change.test_nochange import _gain_noise
from tests.tasks.change.test_nochange import _scene as textured_scene
from tests.tasks.semantic.test_building_counts import LAWN, ROOF, _scene
from tests.tasks.semantic.test_landcover_check import (
    FIELD,
    MUDDY,
    PALER_LAWN,
    ROOF_AT,
    UNSURE_AT,
)

from terrasight.errors import InvalidOptionError
from terrasight.tasks.change.methods import cuts, cva
from terrasight.tasks.change.methods.cva import CVAOptions
from terrasight.tasks.change.methods.threshold import otsu
from terrasight.tasks.change.pipeline.detect import detect_changes

PLANTED = {"paler lawn": FIELD, "roof": ROOF_AT, "muddy": UNSURE_AT}


@pytest.fixture
def flat_planted(make_raster):
    """Sand with two lawns; after: a lawn paler, a new roof, a lawn muddy (the land-cover
    check tests' scene)."""
    before = _scene([(*FIELD, LAWN), (*UNSURE_AT, LAWN)], 1)
    after = _scene([(*FIELD, PALER_LAWN), (*ROOF_AT, ROOF), (*UNSURE_AT, MUDDY)], 2)
    return make_raster("before.tif", before), make_raster("after.tif", after)


def _found(mask: np.ndarray) -> dict[str, float]:
    """Share of each planted change's interior (3 px in from its border) in ``mask``."""
    return {
        name: float(mask[r + 3 : r + s - 3, c + 3 : c + s - 3].mean())
        for name, (r, c, s) in PLANTED.items()
    }


def test_the_default_two_step_cut_finds_all_three_planted_changes(flat_planted):
    result = detect_changes(*flat_planted, method="cva")
    assert result.params["magnitude_threshold"] < 2, result.params
    assert result.params["cut"] == "two-step"  # the result says which cut it used
    assert cva.restore(result.params).cut == "two-step"
    mask = result.mask().astype(bool)
    found = _found(mask)
    assert min(found.values()) > 0.95, (found, result.params)
    truth = np.zeros_like(mask)
    for r, c, s in PLANTED.values():
        truth[r : r + s, c : c + s] = True
    assert mask[~truth].mean() < 0.001


def test_otsu_finds_only_the_roof_on_the_flat_scene(flat_planted):
    """The reason for the two-step cut: Otsu's falls between the roof and the two lawns."""
    result = detect_changes(*flat_planted, method="cva", method_options={"threshold": "otsu"})
    found = _found(result.mask().astype(bool))
    assert result.params["cut"] == "otsu"
    assert found["roof"] > 0.95
    assert found["paler lawn"] < 0.05 and found["muddy"] < 0.05, found


@pytest.mark.parametrize("threshold", cuts.CUTS)
@pytest.mark.parametrize("same", ["identical", "gain_noise"])
def test_every_cut_gives_no_change_where_there_is_none(make_raster, threshold, same):
    before = textured_scene()
    after = before.copy() if same == "identical" else _gain_noise(before)
    result = detect_changes(
        make_raster("before.tif", before),
        make_raster("after.tif", after),
        method="cva",
        method_options={"threshold": threshold},
    )
    assert result.changed_pixels == 0, (threshold, same, result.params)
    assert result.objects == ()


def test_threshold_option_is_checked():
    assert CVAOptions.from_mapping({"threshold": "ki"}).threshold == "ki"
    assert CVAOptions().threshold == "two-step"
    with pytest.raises(InvalidOptionError) as err:
        CVAOptions.from_mapping({"threshold": "log-otsu"})
    assert "'threshold'" in str(err.value) and "two-step" in str(err.value)
    with pytest.raises(ValueError, match="unknown cut"):
        cuts.cut(np.arange(10.0), 0.0, "log-otsu")


def test_two_step_keeps_otsu_on_one_skewed_mode():
    """A unimodal tail (chi-like, log-normal) is not split a second time."""
    rng = np.random.default_rng(0)
    for values in (np.sqrt(rng.chisquare(3, 50000)), rng.lognormal(0, 0.5, 50000)):
        assert cuts.two_step(values) == otsu(values)
        assert cuts.separability(values)[1] < cuts.SEPARATED


def test_two_step_lowers_the_cut_below_a_heavy_change():
    rng = np.random.default_rng(0)
    noise = np.abs(rng.normal(0, 0.3, 30000))
    moderate, heavy = rng.normal(4, 0.4, 2000), rng.normal(30, 1, 600)
    values = np.r_[noise, moderate, heavy]
    assert otsu(values) > 5  # Otsu alone: between the heavy change and the rest
    assert 1 < cuts.two_step(values) < 3.5
    # Where the part above Otsu's cut is no small share, Otsu's cut stays.
    many = np.r_[noise, moderate, rng.normal(30, 1, 6000)]
    assert cuts.two_step(many) == otsu(many)


def test_three_class_and_separability():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(0, 0.3, 5000), rng.normal(5, 0.3, 5000), rng.normal(10, 0.3, 5000)]
    low, high = cuts.three_class(values)
    assert 1 < low < 4 < 6 < high < 9
    t, eta = cuts.separability(rng.normal(0, 1, 50000))
    assert abs(t) < 0.1 and 0.6 < eta < 0.67  # a Gaussian: 2 / pi
    assert cuts.cut(values, 20.0, "three-class") == 20.0  # never below the floor
