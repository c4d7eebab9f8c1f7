"""An archive folder of real small files: GeoTIFFs with a CRS, AID photos, a corrupt file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lancedb")
pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

TILE, OVERLAP = 64, 16
PHOTOS = {"Port": 2, "Forest": 2, "Airport": 2}


def textured(rng: np.random.Generator, bands: int, h: int, w: int, scale: float) -> np.ndarray:
    """Smooth random texture, so tiles differ from each other."""
    small = rng.random((bands, h // 8 + 1, w // 8 + 1))
    big = np.kron(small, np.ones((1, 8, 8)))[:, :h, :w]
    return big * scale


@pytest.fixture
def archive(tmp_path: Path, shared_data: Path) -> Path:
    """``scenes/``: two GeoTIFFs (EPSG:32633 uint8 dated by name, EPSG:32632 uint16 dated by
    tag), six AID photos in a sub-folder, and a corrupt ``.tif``."""
    return write_archive(tmp_path, shared_data)


def write_archive(tmp_path: Path, shared_data: Path) -> Path:
    """:func:`archive` written into ``tmp_path`` (for fixtures of a wider scope)."""
    from ..conftest import write_raster

    def make_raster(name: str, data: np.ndarray, **kw) -> Path:
        return write_raster(tmp_path / name, data, **kw)

    rng = np.random.default_rng(7)
    root = tmp_path / "scenes"
    (root / "photos").mkdir(parents=True)
    make_raster("scenes/coast_20230615.tif", textured(rng, 3, 200, 232, 255).astype(np.uint8))
    from rasterio.transform import from_origin

    make_raster(
        "scenes/inland.tif",
        textured(rng, 4, 128, 128, 4000).astype(np.uint16),
        crs="EPSG:32632",
        transform=from_origin(300000.0, 5200000.0, 20.0, 20.0),
    )
    import rasterio

    with rasterio.open(root / "inland.tif", "r+") as ds:
        ds.update_tags(ACQUISITION_DATE="2021-03-04")
        for i, name in enumerate(["blue", "green", "red", "nir"], start=1):
            ds.set_band_description(i, name)
    for cls, n in PHOTOS.items():
        for src in sorted((shared_data / "aid" / cls).glob("*.jpg"))[:n]:
            shutil.copy(src, root / "photos" / src.name)
    (root / "broken.tif").write_bytes(b"II*\x00 this is not a tiff")
    return root
