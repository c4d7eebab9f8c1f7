"""The coarse-cover rules: water and vegetation from RGB where the content is ~10 m a pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from terrasight.models.onnx_coarse_cover import load_coarse_cover, standardise
from terrasight.tasks.landcover import landcover
from terrasight.tasks.landcover.coarse import (
    coarse_probabilities,
    coarse_rules,
    content_factor,
    scene_percentiles,
)
from terrasight.training.landcover_coarse import index_labels


class _Echo:
    """Stands in for the network in the block-spreading test: class 1 where z > 0."""

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        up = (x[3] > 0).astype(np.float32)
        return np.stack([1 - up, up, np.zeros_like(up)])


def _write(path: Path, data: np.ndarray, pixel: float, names=None) -> Path:
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=str(data.dtype), crs="EPSG:32633",
                   transform=from_origin(500000, 5000000, pixel, pixel))  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        if names:
            ds.descriptions = names
    return path


def test_rules_leave_nodata_and_unsure_pixels() -> None:
    classes = np.array([[255, 2, 2, 0]], np.uint8)
    prob = np.full((5, 1, 4), 0.2, np.float32)
    coarse = np.array([[[0.1, 0.4, 0.9, 0.1]], [[0.8, 0.3, 0.05, 0.1]], [[0.1, 0.3, 0.05, 0.8]]])
    out = coarse_rules(classes.copy(), prob, coarse, 0.6)
    assert out.tolist() == [[255, 2, 0, 3]]  # nodata kept, unsure kept, other -> land, green


def test_blocks_are_classified_at_the_content_size() -> None:
    rgb = np.zeros((3, 30, 30), np.float32)
    rgb[:, :15, :15] = 10.0  # a bright 3 x 3 block of 5 x 5 px content pixels
    stats = (np.zeros(3), np.full(3, 5.0), np.full(3, 10.0))
    prob = coarse_probabilities(rgb, stats, _Echo(), factor=5)  # type: ignore[arg-type]
    assert prob.shape == (3, 30, 30)
    blocks = prob[1].reshape(6, 5, 6, 5)
    assert (blocks == blocks[:, :1, :, :1]).all()  # one value per content pixel
    assert prob[1, 5, 5] == 1.0 and prob[1, 25, 25] == 0.0  # centre of the block; far away
    assert 0 < prob[1, 15, 15] < 1  # its edge, averaged with its neighbours
    assert content_factor(2.0, 10.0) == 5 and content_factor(10.0, 10.0) == 1
    lo, mid, hi = scene_percentiles(rgb, np.ones((30, 30), bool))
    assert (mid == 0).all() and (hi > lo).all()


def test_index_labels() -> None:
    # blue, green, red, nir, swir: a field, a lake, a roof, and an in-between pixel
    x = np.array([[[0.04, 0.06, 0.12, 0.08]], [[0.07, 0.08, 0.13, 0.09]],
                  [[0.04, 0.04, 0.15, 0.08]], [[0.40, 0.02, 0.20, 0.16]],
                  [[0.20, 0.01, 0.25, 0.10]]])  # fmt: skip
    assert index_labels(x).tolist() == [[2, 1, 0, 255]]


def _fields_and_lake() -> np.ndarray:
    """A 10 m-like RGB scene: green fields, brown fields and a dark lake, uint8."""
    rng = np.random.default_rng(0)
    img = np.empty((3, 160, 160), np.float32)
    img[:] = np.array([60, 90, 60], np.float32)[:, None, None]
    img[:, :, 80:] = np.array([140, 120, 100], np.float32)[:, None, None]
    img[:, 50:110, 20:70] = np.array([25, 35, 50], np.float32)[:, None, None]
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_applies_at_10_m_only_without_nir(tmp_path: Path) -> None:
    data = _fields_and_lake()
    ten = landcover(_write(tmp_path / "s2.tif", data, 10.0))
    fine = landcover(_write(tmp_path / "aerial.tif", data, 0.5))
    off = landcover(_write(tmp_path / "off.tif", data, 10.0), options={"coarse": False})
    nir = np.concatenate([data, data[1:2]])
    with_nir = landcover(_write(tmp_path / "nir.tif", nir, 10.0, ("red", "green", "blue", "nir")))
    said = [any("coarse-cover" in n for n in r.notes) for r in (ten, fine, off, with_nir)]
    assert said == [True, False, False, False]
    assert ten.classes is not None and off.classes is not None
    assert (ten.classes != off.classes).any()  # the rules changed something
    assert [r.coarse for r in (ten, fine, off, with_nir)] == [True, False, False, False]
    written = landcover(_write(tmp_path / "s2w.tif", data, 10.0), tmp_path / "out")
    page = Path(written.files["report"]).read_text()
    assert "coarse-cover network" in page and "RGB model only" not in page
    assert written.to_dict()["coarse_rules"] is True
    told = landcover(
        _write(tmp_path / "up.tif", data, 2.0), options={"content_metres": 10.0}
    )  # an image made finer than it was, told its own pixel size
    assert any("coarse-cover" in n for n in told.notes)


def test_shipped_network_on_a_held_out_city(shared_data: Path, tmp_path: Path) -> None:
    """Rennes (never trained on), rendered as an 8-bit RGB picture: water and vegetation
    agree with its own infrared indices far better than the aerial network alone."""
    from terrasight.training.oscd import load_city

    folder = shared_data / "change" / "oscd" / "rennes"
    if not folder.is_dir():
        pytest.skip(f"no OSCD city at {folder}")
    city = load_city(folder, ("B02", "B03", "B04", "B08", "B11"))
    truth = index_labels(city.before)
    rgb = city.before[[2, 1, 0]]
    lo, hi = np.percentile(rgb, [1, 99])
    picture = (np.clip((rgb - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    path = _write(tmp_path / "rennes.tif", picture, 10.0)
    both = landcover(path).classes
    alone = landcover(path, options={"coarse": False}).classes
    assert both is not None and alone is not None
    ok = truth != 255
    as_coarse = np.array([0, 0, 1, 2, 0, 0] + [0] * 250)  # classes -> other / water / green

    def agreement(classes: np.ndarray) -> float:
        return float((as_coarse[classes[ok]] == truth[ok]).mean())

    assert agreement(both) > 0.85
    assert agreement(both) > agreement(alone) + 0.2


def test_standardise_and_load(tmp_path: Path) -> None:
    z = standardise(np.full((3, 2, 2), 1e6), np.zeros(3), np.zeros(3), np.ones(3))
    assert float(z.max()) == 6.0  # clipped
    net = load_coarse_cover()
    prob = net.probabilities(np.zeros((6, 37, 50), np.float32))
    assert prob.shape == (3, 37, 50) and np.allclose(prob.sum(0), 1, atol=1e-4)
    assert "mumbai" not in " ".join(net.meta["train_scenes"])
