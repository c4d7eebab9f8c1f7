"""No change where there is none, and no answer where a date is blank, for every method."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import ndimage

from terrasight.cli import main
from terrasight.tasks.change.methods.nochange import effective_dof, input_issues, noise_floor
from terrasight.tasks.change.pipeline.detect import detect_changes

HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "efficientnet_lite_pytorch"))
METHODS = [
    "cva",
    "irmad",
    "sar",
    "filtered-cva",
    pytest.param("learned", marks=pytest.mark.skipif(not HAS_TORCH, reason="needs PyTorch")),
]


def _scene(seed: int = 0, size: int = 160) -> np.ndarray:
    """A 3-band uint16 scene with fields-like texture (smoothed noise plus sharp patches)."""
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.normal(size=(3, size, size)), (0, 4, 4))
    smooth = smooth / smooth.std()
    patches = np.kron(rng.integers(0, 4, (3, size // 16, size // 16)), np.ones((16, 16)))
    return (1500 + 300 * smooth + 250 * patches).astype(np.uint16)


def _gain_noise(scene: np.ndarray, seed: int = 1) -> np.ndarray:
    """The same scene under another light (gain and offset per band) with sensor noise."""
    rng = np.random.default_rng(seed)
    gain = np.array([0.9, 1.05, 0.95]).reshape(3, 1, 1)
    out = scene * gain + 40 + rng.normal(0, 10, scene.shape)
    return out.clip(0, 65535).astype(np.uint16)


@pytest.fixture
def scene_paths(make_raster):
    """before, identical copy, gain + noise, and blank (zeros, no nodata) after images."""
    before = _scene()
    return {
        "before": make_raster("before.tif", before),
        "identical": make_raster("identical.tif", before.copy()),
        "gain_noise": make_raster("gain_noise.tif", _gain_noise(before)),
        "blank": make_raster("blank.tif", np.zeros_like(before)),
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("after", ["identical", "gain_noise"])
def test_no_change_gives_no_change(scene_paths, method, after):
    result = detect_changes(scene_paths["before"], scene_paths[after], method=method)
    assert result.changed_pixels == 0, (method, after, result.params)
    assert result.objects == ()
    assert not result.unreliable


@pytest.mark.parametrize("method", METHODS)
def test_blank_after_image_is_no_answer(scene_paths, method):
    result = detect_changes(scene_paths["before"], scene_paths["blank"], method=method)
    assert result.changed_pixels == 0 and result.objects == ()
    assert result.unreliable
    assert "after image is constant" in result.quality_issues[0]
    assert any("after image is constant" in w for w in result.warnings)


def test_partly_blank_after_image_warns(make_raster):
    before = _scene()
    after = _gain_noise(before)
    after[:, :, 96:] = 0  # the east part of the after image is a fill value, not nodata
    result = detect_changes(
        make_raster("before.tif", before),
        make_raster("after.tif", after),
        method="cva",
        sample_size=64,
    )
    assert any("after image is constant over" in w for w in result.warnings)
    assert not any("before image is constant" in w for w in result.warnings)


def test_blank_image_warning_reaches_the_command_line(scene_paths, tmp_path):
    args = ["change", scene_paths["blank"], scene_paths["before"], "-m", "cva"]
    run = CliRunner().invoke(main, [str(a) for a in args] + ["-o", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    assert "UNRELIABLE RESULT: the before image is constant" in run.output


def test_planted_change_is_still_found(planted_pair):
    before, after, truth = planted_pair
    for method in ("cva", "irmad"):
        mask = detect_changes(before, after, method=method).mask() == 1
        assert mask[truth == 1].mean() > 0.9, method
        assert mask[truth == 0].mean() < 0.01, method


def test_input_issues_name_the_constant_date_only():
    scene = _scene().astype(np.float32)
    valid = np.ones(scene.shape[1:], bool)
    assert input_issues([(scene, scene * 0.5, valid)]) == []
    flat = np.full_like(scene, 7.0)
    (issue,) = input_issues([(flat, scene, valid)])
    assert issue.startswith("the before image is constant") and "7, 7, 7" in issue


def test_noise_floor_lets_through_the_chosen_share_of_noise():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 3, (200_000, 4))
    distance = np.sqrt((noise**2).sum(1))
    for significance in (0.01, 0.001):
        share = float((distance > noise_floor(distance, 4, significance)).mean())
        assert 0.5 * significance < share < 1.5 * significance
    assert noise_floor(np.zeros(100), 3, 0.001) == 0.0


def test_effective_dof_counts_independent_bands():
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(20_000, 3))
    assert effective_dof(independent, np.linalg.norm(independent, axis=1)) > 2.9
    one = np.repeat(independent[:, :1], 3, axis=1)
    assert effective_dof(one, np.abs(one[:, 0])) == pytest.approx(1.0)


def test_the_report_puts_an_unreliable_result_first(scene_paths, tmp_path):
    blank = detect_changes(scene_paths["before"], scene_paths["blank"], method="cva")
    html = blank.save(tmp_path / "blank")["report"].read_text(encoding="utf-8")
    banner = html.find('class="unreliable"')
    assert banner != -1 and banner < html.find("Key figures")
    assert blank.quality_issues[0][:40] in html and "unreliable result:" not in html
    same = detect_changes(scene_paths["before"], scene_paths["identical"], method="cva")
    assert 'class="unreliable"' not in same.save(tmp_path / "same")["report"].read_text()
