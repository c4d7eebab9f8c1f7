"""Spectral groups from standard indices, and their effect on the facts' land cover."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions, change_facts
from terrasight.tasks.interpret.spectral import dominant_group, restrict, spectral_group

NAMES = ["blue", "green", "red", "nir", "swir16"]
VEGETATION = (0.04, 0.08, 0.05, 0.40, 0.20)
WATER = (0.06, 0.05, 0.03, 0.02, 0.01)
ROOF = (0.25, 0.25, 0.26, 0.27, 0.28)


def test_groups_of_textbook_spectra():
    for spectrum, group in ((VEGETATION, "green"), (WATER, "water"), (ROOF, "dry")):
        assert spectral_group(dict(zip(NAMES, spectrum, strict=True))) == group
    assert spectral_group({"green": 0.1, "red": 0.1}) is None  # no near-infrared
    mixed = {"green": 0.1, "red": 0.1, "nir": 0.17, "swir16": 0.2}  # NDVI 0.26
    assert spectral_group(mixed) == "mixed"


def test_a_pixel_vote_reads_a_roof_outlined_too_wide_as_dry():
    data = np.empty((5, 4, 4))
    data[:] = np.array(VEGETATION)[:, None, None]
    data[:, 1:4, 0:4] = np.array(ROOF)[:, None, None]  # 12 of 16 pixels are roof
    valid = np.ones((4, 4), bool)
    scale, offset = (1.0,) * 5, (0.0,) * 5
    assert dominant_group(data, valid, NAMES, scale, offset) == "dry"
    assert dominant_group(data, np.zeros((4, 4), bool), NAMES, scale, offset) is None


def test_restrict_keeps_only_the_group_classes():
    probs = np.array([0.6, 0.3, 0.1])
    out = restrict(probs, ["vegetation", "water", "built-up"], "water")
    assert out.tolist() == [0.0, 1.0, 0.0]
    assert restrict(probs, ["vegetation", "water", "built-up"], None) is probs


def test_a_new_lake_in_a_multispectral_pair_is_water(make_raster):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    before = np.empty((5, 120, 120), np.float32)
    before[:] = (np.array(VEGETATION) * 10_000)[:, None, None]
    before *= rng.normal(1, 0.05, before.shape).astype(np.float32)
    after = before.copy()
    after[:, 30:70, 40:90] = (np.array(WATER) * 10_000)[:, None, None]
    transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    b = make_raster("b.tif", before.astype(np.uint16), transform=transform)
    a = make_raster("a.tif", after.astype(np.uint16), transform=transform)
    for path in (b, a):
        with rasterio.open(path, "r+") as ds:
            ds.descriptions = tuple(NAMES)
    result = detect_changes(b, a, method="cva")
    facts = change_facts(result, FactsOptions(classify=True))
    lake = facts.objects[0]
    assert lake.after_class == "water" and lake.before_class in ("vegetation", "farmland")
    assert lake.after_confidence == 1.0  # water is the only class the water group allows
