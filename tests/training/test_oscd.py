"""The OSCD loader and the change-ms training command, on the real cities (skip without them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window

from terrasight.errors import DatasetLayoutError
from terrasight.training.oscd import SWIR, TEN_M, city_names, find_root, load_city


@pytest.fixture
def oscd(shared_data: Path) -> Path:
    root = shared_data / "change" / "oscd"
    if not (root / "paris").is_dir():
        pytest.skip(f"OSCD cities not found under {root}")
    return root


def test_city_bands_truth_and_grid(oscd) -> None:
    assert {"paris", "rennes", "beirut"} <= set(city_names(oscd))
    assert find_root(oscd.parents[1]) == oscd
    city = load_city(oscd / "paris", TEN_M + SWIR)
    assert city.before.shape == city.after.shape == (6, 408, 390)
    assert city.before.dtype == np.float32 and city.truth.dtype == bool
    # Labels are 1 = no change, 2 = change: a few percent changed, not all of it.
    assert 0.001 < city.truth.mean() < 0.05
    # Reflectance, with the 20 m SWIR bands resampled to the 10 m grid: vegetation
    # (bright NIR) is darker in SWIR 2.2 than in SWIR 1.6, as it should be.
    assert 0.02 < float(np.median(city.before[0])) < 0.3
    veg = city.before[3] > np.percentile(city.before[3], 90)
    assert np.median(city.before[5][veg]) < np.median(city.before[4][veg])


def test_dates_on_different_grids_are_put_on_the_first(oscd) -> None:
    city = load_city(oscd / "saclay_e", TEN_M)  # its second date is 631 x 679 px
    assert city.after.shape == city.before.shape == (4, 639, 688)
    a, b = city.before[3], city.after[3]
    aligned = np.corrcoef(a[8:-8, 8:-8].ravel(), b[8:-8, 8:-8].ravel())[0, 1]
    shifted = np.corrcoef(
        a[8:-8, 8:-8].ravel(), b[16:, 16:][: a.shape[0] - 16, : a.shape[1] - 16].ravel()
    )[0, 1]
    assert aligned > 0.3 and aligned > shifted + 0.1  # the same place, not shifted


def test_missing_layout_is_named(tmp_path) -> None:
    with pytest.raises(DatasetLayoutError, match="imgs_1"):
        city_names(tmp_path)


def _crop_city(src: Path, dst: Path, size: int = 96) -> None:
    """A ``size`` px corner of an OSCD city, in the same layout (20 m bands at half size)."""
    for folder in ("imgs_1", "imgs_2"):
        (dst / folder).mkdir(parents=True)
        for path in sorted((src / folder).glob("*_B*.tif")):
            with rasterio.open(path) as ds:
                side = size if ds.res[0] < 1.5e-4 else size // 2
                data = ds.read(window=Window(0, 0, side, side))
                profile = ds.profile | {"width": side, "height": side}
            with rasterio.open(dst / folder / path.name, "w", **profile) as out:
                out.write(data)
    (dst / "cm").mkdir()
    label = next((src / "cm").glob("*-cm.tif"))
    with rasterio.open(label) as ds:
        data = ds.read(window=Window(0, 0, size, size))
        profile = ds.profile | {"width": size, "height": size}
    with rasterio.open(dst / "cm" / label.name, "w", **profile) as out:
        out.write(data)


def test_train_command_tiny_run(oscd, tmp_path) -> None:
    pytest.importorskip("torch")
    from terrasight.cli.train import train_group
    from terrasight.tasks.change.methods.learned_ms import load_weights

    data = tmp_path / "oscd"
    for name in ("mumbai", "rennes"):  # both have change in their top-left corner
        _crop_city(oscd / name, data / name)
    out = tmp_path / "run"
    args = [
        "change-ms",
        "--data",
        str(data),
        "--out",
        str(out),
        "--copies",
        "1",
        "--epochs",
        "2",
        "--model",
        "mlp",
    ]
    result = CliRunner().invoke(train_group, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    net, header = load_weights(report["weights"])
    assert header["cities"] == ["mumbai", "rennes"] and header["bands"] == list(TEN_M)
    assert 0.0 < net.threshold < 1.0 and header["seed"] == 0
    again = CliRunner().invoke(train_group, [*args[:4], str(tmp_path / "again"), *args[5:]])
    assert again.exit_code == 0, again.output
    net2, _ = load_weights(json.loads(again.output.strip().splitlines()[-1])["weights"])
    assert np.array_equal(net.layers[0][0], net2.layers[0][0])  # seeded: the same weights
