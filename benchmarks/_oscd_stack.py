"""Write each OSCD city as one multi-band GeoTIFF per date (what a user hands ``detect_changes``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio

from terrasight.training.oscd import REFLECTANCE_SCALE, load_city


def stack_city(folder: Path, bands: Sequence[str], out: Path) -> tuple[Path, Path, np.ndarray]:
    """``out/<city>_1.tif`` and ``_2.tif`` (uint16, band descriptions = S2 names) and the truth."""
    city = load_city(folder, bands)
    with rasterio.open(next((folder / "imgs_1").glob("*_B02.tif"))) as ref:
        crs, transform = ref.crs, ref.transform
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for which, image in (("1", city.before), ("2", city.after)):
        path = out / f"{city.name}_{len(bands)}b_{which}.tif"
        data = np.round(image / REFLECTANCE_SCALE).astype(np.uint16)
        profile = dict(
            driver="GTiff",
            width=data.shape[2],
            height=data.shape[1],
            count=data.shape[0],
            dtype="uint16",
            crs=crs,
            transform=transform,
        )
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
            for i, band in enumerate(bands, start=1):
                ds.set_band_description(i, band)
        paths.append(path)
    return paths[0], paths[1], city.truth
