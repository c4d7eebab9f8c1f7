"""Clouds in one image's land cover: cloud and cloud-shadow pixels become nodata.

Where the image has blue, green, red and near-infrared in reflectance units
(16-bit or float; the change job's rules, :func:`~terrasight.tasks.change.pipeline.clouds.cloud_config`),
each land-cover window is also classified by the cloud model (ukis-csmask,
:mod:`terrasight.io.cloud`) with the reflectance factors found the change job's
way (:func:`~terrasight.tasks.change.pipeline.clouds.date_config`: given, read
from the file's metadata, or the default for its data type when sample pixels
look like reflectance under it). There is no second date to compare with, so
the one-image rule :func:`~terrasight.tasks.change.pipeline.cloud_rule.image_exclusion`
decides which flags stand: sharp-edged bright or dark objects (roofs,
reservoirs) stay ground, and "shadow" counts only near a cloud.

Example:
    >>> cloud_note(25, 75)
    '25% of the image under cloud or cloud shadow was left out: areas and shares describe the rest'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasterio.windows import Window

from terrasight.io.cloud import (
    MODEL_RESOLUTION,
    CloudConfig,
    CloudModel,
    cloud_classes,
    load_cloud_model,
)
from terrasight.io.raster import RasterSource, read_window
from terrasight.io.tiling import TileGrid
from terrasight.tasks.change.pipeline import cloud_rule
from terrasight.tasks.change.pipeline.clouds import (
    cloud_check,
    cloud_config,
    date_config,
    ground_resolution,
)

CAVEAT_SHARE = 0.05
"""Clouds over at least this share of the image make a caveat on every one-image answer."""
CLOUDED_OUT_SHARE = 0.9
"""Clouds over more than this share of the image (nearly all of it): one-image answers say
"I can't tell"."""
_SAMPLE_WINDOWS = 9
_SAMPLE_SIZE = 256


@dataclass(frozen=True)
class ImageClouds:
    """How to mask one image's windows: the bands to read, the model and its configuration.

    ``config.band_indexes`` index :attr:`read` (the bands read for the model, in the
    model's order); ``metres`` is the image's pixel size (None without a CRS).
    """

    read: tuple[int, ...]
    config: CloudConfig
    model: CloudModel
    metres: float | None
    factors: str

    def mask(self, data: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """bool ``(h, w)``: True where a window (``read`` bands, file units) is cloud or shadow.

        Example:
            >>> clouds.mask(data, valid).mean()  # doctest: +SKIP
            0.31
        """
        classes = np.where(valid, cloud_classes(data, valid, self.config, model=self.model), 0)
        if not classes.any():
            return np.zeros(valid.shape, bool)
        c = self.config
        x = data.astype(np.float32)
        x *= np.asarray(c.scale, np.float32).reshape(-1, 1, 1)
        x += np.asarray(c.offset, np.float32).reshape(-1, 1, 1)
        f = c.downsample
        metres = self.metres or cloud_rule_metres(f)
        stands = cloud_rule.image_exclusion(
            x,
            classes.astype(np.uint8),
            reach=cloud_rule.SHADOW_REACH_M / metres,
            buffer=c.buffer * f,
            min_object=cloud_rule.MIN_OBJECT * f * f,
        )
        return stands & valid

    def on_sample(self, data: np.ndarray, valid: np.ndarray, region: Window) -> np.ndarray:
        """:meth:`mask` of ``region`` read decimated (to ``data``'s shape): for scene
        statistics that clouds must not set (the 8-bit stretch).

        Example:
            >>> clouds.on_sample(sample, sample_valid, region).shape == sample_valid.shape  # doctest: +SKIP
            True
        """
        factor = max(region.width / data.shape[2], region.height / data.shape[1], 1.0)
        if factor <= 1.0:
            return self.mask(data, valid)
        metres = (self.metres or cloud_rule_metres(self.config.downsample)) * factor
        down = max(1, min(4, round(MODEL_RESOLUTION / metres)))
        config = dataclasses.replace(self.config, downsample=down)
        return dataclasses.replace(self, config=config, metres=metres).mask(data, valid)


def cloud_rule_metres(downsample: int) -> float:
    """A pixel's size (m) taken where the image has no CRS: the model's 30 m over its
    block-averaging factor."""
    return MODEL_RESOLUTION / max(1, downsample)


def plan_image_clouds(
    src: RasterSource,
    ds: Any,
    region: Window,
    mode: str,
    scale: float | None,
    offset: float,
    notes: list[str],
) -> ImageClouds | None:
    """The cloud masking of ``src`` (opened as ``ds``), or None: masks off, bands that cannot
    be masked, the model missing, or pixels that do not look like reflectance (a note).

    Raises:
        BandSelectionError, CloudMaskUnavailableError: with ``mode="on"`` where masks
            cannot be made (as for the change job).

    Example:
        >>> plan_image_clouds(src, ds, region, "auto", None, 0.0, [])  # doctest: +SKIP
    """
    base = cloud_config(src, selected_names(src), mode)
    if base is None:
        return None
    read = tuple(src.bands[i] for i in base.band_indexes)
    found = date_config(src, _sample(src, ds, region, read), base, mode, scale, offset, notes)
    if found is None:
        return None
    config = dataclasses.replace(found[0], band_indexes=tuple(range(len(read))))
    return ImageClouds(read, config, load_cloud_model(config), ground_resolution(src), found[1])


def selected_names(src: RasterSource) -> tuple[str, ...]:
    """The names of the bands read (``src.band_names`` names all the file's bands)."""
    return tuple(src.band_names[b - 1] for b in src.bands)


def _sample(src: RasterSource, ds: Any, region: Window, read: tuple[int, ...]) -> np.ndarray:
    """Valid pixels ``(bands, n)`` of ``read`` from windows spread over ``region``."""
    parts = []
    for tile in TileGrid(region, _SAMPLE_SIZE).sample(_SAMPLE_WINDOWS):
        data, valid = read_window(ds, read, tile.read, src.nodata, src.has_mask)
        parts.append(data[:, valid])
    return np.concatenate(parts, axis=1)


def cloud_share(cloud: int, valid: int) -> float:
    """Share (0-1) of the image's data pixels left out as cloud or cloud shadow.

    Example:
        >>> cloud_share(1, 3)
        0.25
    """
    total = cloud + valid
    return cloud / total if total else 0.0


def cloud_note(cloud: int, valid: int) -> str | None:
    """The note saying how much of the image was left out as cloud (None: none was)."""
    if cloud == 0:
        return None
    share = 100 * cloud_share(cloud, valid)
    words = f"{share:.0f}%" if share >= 1 else "under 1%"
    return (
        f"{words} of the image under cloud or cloud shadow was left out: areas and shares "
        "describe the rest"
    )


def map_caveats(water: str | None, cloud: int, valid: int) -> list[str]:
    """The caveats a map carries into one-image answers: the water caveat, and the cloud
    note where clouds covered at least :data:`CAVEAT_SHARE` of the image.

    Example:
        >>> map_caveats(None, 1, 99), len(map_caveats(None, 10, 90))
        ([], 1)
    """
    lines = [] if water is None else [water]
    note = cloud_note(cloud, valid)
    if note is not None and cloud_share(cloud, valid) >= CAVEAT_SHARE:
        lines.append(note)
    return lines


def summary(
    masked: bool, band_names: tuple[str, ...], mode: str, cloud: int, valid: int
) -> dict[str, Any]:
    """What ``landcover.json`` says of clouds: checked or why not, pixels and share left out.

    Example:
        >>> summary(False, ("red", "green", "blue"), "auto", 0, 10)["checked"]
        'not checked (needs blue, green, red and NIR)'
    """
    return {
        "checked": cloud_check(band_names, mode, masked),
        "pixels": int(cloud),
        "share": round(cloud_share(cloud, valid), 4),
    }
