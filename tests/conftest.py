"""Shared fixtures: small real rasters written with rasterio, and the shared data folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

SHARED_DATA = Path(
    os.environ.get(
        "TERRASIGHT_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
).resolve()


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | None = "EPSG:32633",
    transform=None,
    nodata: float | None = None,
    **profile,
) -> Path:
    """Write ``data`` (bands, h, w) or (h, w) as a GeoTIFF (or the driver ``profile`` names)."""
    if data.ndim == 2:
        data = data[None]
    count, h, w = data.shape
    if transform is None and crs is not None:
        transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
    prof = dict(driver="GTiff", width=w, height=h, count=count, dtype=data.dtype.name)
    if crs is not None:
        prof.update(crs=crs, transform=transform)
    if nodata is not None:
        prof["nodata"] = nodata
    prof.update(profile)
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(data)
    return path


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_raster("a.tif", array, crs=..., transform=..., nodata=...)`` -> path."""

    def _make(name: str, data: np.ndarray, **kw) -> Path:
        return write_raster(tmp_path / name, data, **kw)

    return _make


@pytest.fixture
def planted_pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A 3-band 96x128 uint8 GeoTIFF pair (EPSG:32633, 10 m) with a planted 20x24 change.

    The after image is darker overall (a global light change) and a bright
    rectangle appears at rows 30..49, cols 70..93. Returns (before, after, truth).
    """
    rng = np.random.default_rng(42)
    h, w = 96, 128
    base = rng.normal(100, 12, size=(3, h, w)).clip(0, 255)
    before = base.astype(np.uint8)
    after = (base * 0.8 + 10 + rng.normal(0, 3, size=base.shape)).clip(0, 255)
    truth = np.zeros((h, w), dtype=np.uint8)
    truth[30:50, 70:94] = 1
    after[:, truth == 1] = 240
    b = write_raster(tmp_path / "before.tif", before)
    a = write_raster(tmp_path / "after.tif", after.astype(np.uint8))
    return b, a, truth


@pytest.fixture
def shared_data() -> Path:
    """The shared research data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory):
    """Exported networks go to a folder of this test session, not the user's cache."""
    previous = os.environ.get("TERRASIGHT_CACHE")
    os.environ["TERRASIGHT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("TERRASIGHT_CACHE", None)
    else:
        os.environ["TERRASIGHT_CACHE"] = previous


ARCHIVE_CLASSES = ("Airport", "Port", "Forest", "Beach", "Stadium", "Farmland")
"""The AID classes of :func:`tiny_archive`, one photo each."""


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """An archive index of six AID photos (one per class of :data:`ARCHIVE_CLASSES`), built
    once per module: the airport as a GeoTIFF in EPSG:32633 (about 15.0 E, 45.1 N, so it has
    a footprint on the map), the others plain JPEGs. Gives (index folder, class -> file);
    skips without the shared data, LanceDB or PyTorch."""
    import shutil

    for module in ("lancedb", "torch", "sentence_transformers"):
        pytest.importorskip(module, reason=f"the archive index needs {module}")
    if not (SHARED_DATA / "aid").is_dir():
        pytest.skip(f"AID photos not found under {SHARED_DATA} (set TERRASIGHT_SHARED_DATA)")
    from PIL import Image

    from terrasight import index

    root = tmp_path_factory.mktemp("archive")
    (root / "scenes").mkdir()
    files: dict[str, Path] = {}
    for cls in ARCHIVE_CLASSES:
        src = sorted((SHARED_DATA / "aid" / cls).glob("*.jpg"))[0]
        if cls == "Airport":
            pixels = np.asarray(Image.open(src).convert("RGB")).transpose(2, 0, 1)
            transform = from_origin(500000.0, 5000000.0, 10.0, 10.0)
            files[cls] = write_raster(root / "scenes" / "airport.tif", pixels, transform=transform)
        else:
            files[cls] = Path(shutil.copy(src, root / "scenes" / src.name))
    db = root / "archive.lance"
    report = index.build([root / "scenes"], db, tile=224)
    assert report.tiles_total == len(ARCHIVE_CLASSES), report.summary()
    return db, {cls: path.resolve() for cls, path in files.items()}
