"""Cloud and cloud-shadow masks for multispectral windows, with ukis-csmask.

`ukis-csmask <https://github.com/dlr-eoc/ukis-csmask>`_ (DLR, Apache-2.0) is a
U-Net (EfficientNet-B4 encoder) exported to ONNX and trained on Landsat-8 and
Sentinel-2 top-of-atmosphere (``l1c``) or surface (``l2a``) reflectance at about
30 m. It needs at least blue, green, red and NIR (4-band model); with SWIR 1.6
and 2.2 um as well it runs its better 6-band model.

Its output classes (``CSmask.csm``, see ``CSmask._csm`` in ``ukis_csmask/mask.py``)
are ``0`` background (clear land or water), ``1`` cloud, ``2`` cloud shadow. Its
``valid`` mask is the inverse of classes 1 and 2 (and nodata), dilated by
``invalid_buffer`` pixels. :func:`cloud_mask` returns ``csm in {1, 2}`` dilated
by :attr:`CloudConfig.buffer` model pixels and limited to valid pixels: True means
"cloud or cloud shadow, do not compare".

How a window is masked: the model bands are cut out of the float32 window, scaled
to reflectance (``DN * scale + offset``), invalid pixels are filled with the band
means, the window is block-averaged to about 30 m (``downsample``), padded by
mirroring to at least 256 x 256 (the model's tile size), classified, and the mask
is brought back to the window's grid by repeating pixels.

Sessions and threads: ``CSmask(img, ...)`` loads the model into a new ONNX
session for every image (0.35 s and about 250 MiB, as long as masking a whole
1024 px window at 10 m). So a :class:`CloudModel` holds one session of a model
file, made with ``intra_op_num_threads=1`` and ``inter_op_num_threads=1``; the
caller loads it once (:func:`load_cloud_model`, or a job through its model
cache) and passes it to every window, and it runs the same steps as ``CSmask._csm``
(normalisation with the model's statistics, ukis-csmask's own ``tile_array`` /
``untile_array`` with 20 % overlap and smooth blending, softmax, argmax); the
classes equal CSmask's (a test checks it), except that an image of exactly
one 256 px tile (any window up to 768 px at 10 m) runs as one tile, not as
CSmask's four overlapping ones (see :meth:`CloudModel.classify`). ONNX Runtime
sessions may be run from several threads at once, so two pipeline threads mask
two windows in parallel with one copy of the weights (a second concurrent run
adds about 20 MiB).

Speed and memory (2-core AMD EPYC, lightly loaded): about 1 Mpx/s of 256 px model tiles
per thread; tiling with overlap and padding makes a window cost 1.5-3 times its
own area, and block-averaging 10 m data to 30 m makes it 9 times cheaper. A
1024 x 1024 Sentinel-2 window at 10 m takes 0.5 s on one thread (2.1 Mpx/s per
thread, 3.7 Mpx/s on two) and about 50 MiB of temporary memory; a 256-768 px one
0.06-0.08 s (one model tile); at 30 m (no block-averaging) a 1024 px window
runs at 0.25-0.45 Mpx/s per thread and needs about 230 MiB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, special

from terrasight.errors import CloudMaskUnavailableError
from terrasight.io.raster import common_name

MODEL_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
"""Band names ukis-csmask understands; the first four are required."""

MODEL_RESOLUTION = 30.0
"""Ground resolution (m) the models were trained at."""

TILE = 256
"""The models' fixed input size; smaller windows are padded to it."""

_OVERLAP = 0.2  # ukis-csmask's tile overlap
_REFLECTANCE_DTYPES = {"uint16", "int16", "float32", "float64"}
_INSTALL = "python -m pip install 'ukis-csmask[cpu]' onnxruntime"


@dataclass(frozen=True)
class CloudConfig:
    """How to feed one image's windows to the cloud model.

    Attributes:
        band_indexes: 0-based positions, in the window's band axis, of the bands fed
            to the model.
        band_order: the model's name for each of those bands (``blue``... ``swir22``).
        scale, offset: ``reflectance = value * scale + offset``; one value for all
            bands, or one per model band (in ``band_indexes`` order).
        product_level: ``"l1c"`` (top of atmosphere) or ``"l2a"`` (surface reflectance).
        downsample: block-average factor bringing the window near 30 m before the model.
        buffer: pixels (at the model's resolution) by which the mask is grown.
    """

    band_indexes: tuple[int, ...]
    band_order: tuple[str, ...]
    scale: float | tuple[float, ...] = 1e-4
    offset: float | tuple[float, ...] = 0.0
    product_level: str = "l1c"
    downsample: int = 1
    buffer: int = 1

    @property
    def model_file(self) -> Path:
        """The ukis-csmask ONNX file this configuration runs (4- or 6-band, l1c or l2a)."""
        kind = "6b" if len(self.band_order) == 6 else "4b"
        return _package_dir() / f"model_{kind}_{self.product_level}.onnx"


def cloud_support(
    band_names: Sequence[str],
    dtype: str,
    *,
    scale: float | Sequence[float] | None = None,
    offset: float | Sequence[float] = 0.0,
    product_level: str = "l1c",
    resolution: float | None = None,
    buffer: int = 1,
) -> CloudConfig | None:
    """Decide whether cloud masks can be computed for an image, and how.

    Masks need blue, green, red and NIR among the selected bands (plus SWIR 1.6 and
    2.2 um for the better 6-band model) and scaled reflectance: 16-bit integers
    (default scale 1e-4, right for Sentinel-2 L1C/L2A before processing baseline
    04.00; later products need ``offset=-0.1``; Landsat Collection 1/2 L1 needs
    ``scale=2e-5, offset=-0.1``) or floats (default scale 1, reflectance as is).
    8-bit images (RGB photos, aerial imagery) get ``None``.

    Args:
        band_names: names of the selected bands, in window order (common names or
            sensor names such as ``B04``).
        dtype: the file's data type (``"uint16"``...).
        scale, offset: reflectance = value * scale + offset, one value or one per
            band of ``band_names``; ``scale=None`` picks the default for ``dtype``.
        product_level: ``"l1c"`` or ``"l2a"``.
        resolution: pixel size in metres, if known; windows finer than 30 m are
            block-averaged to about 30 m (3x for 10 m), which is also 9x faster.
        buffer: model pixels by which masks are grown (cloud edges are fuzzy).

    Returns:
        A :class:`CloudConfig`, or ``None`` when masks cannot be computed.

    Example:
        >>> cfg = cloud_support(["blue", "green", "red", "nir", "swir16", "swir22"], "uint16",
        ...                     resolution=10.0)
        >>> cfg.band_indexes, cfg.scale, cfg.downsample
        ((0, 1, 2, 3, 4, 5), 0.0001, 3)
        >>> cloud_support(["red", "green", "blue"], "uint8") is None
        True
    """
    if str(dtype) not in _REFLECTANCE_DTYPES:
        return None
    level = product_level.lower()
    if level not in ("l1c", "l2a"):
        raise ValueError(f"product_level must be 'l1c' or 'l2a', got {product_level!r}")
    commons = [common_name(n) for n in band_names]
    if "nir" not in commons and "nir08" in commons:  # Sentinel-2 B8A when B08 is absent
        commons[commons.index("nir08")] = "nir"
    wanted = MODEL_BANDS if all(b in commons for b in MODEL_BANDS) else MODEL_BANDS[:4]
    if not all(b in commons for b in wanted):
        return None
    if scale is None:
        scale = 1.0 if str(dtype).startswith("float") else 1e-4
    down = 1
    if resolution is not None and 0 < resolution < MODEL_RESOLUTION:
        down = max(1, min(4, round(MODEL_RESOLUTION / resolution)))
    indexes = tuple(commons.index(b) for b in wanted)
    return CloudConfig(
        band_indexes=indexes,
        band_order=tuple(wanted),
        scale=_factor(scale, indexes),
        offset=_factor(offset, indexes),
        product_level=level,
        downsample=down,
        buffer=int(buffer),
    )


def _factor(value: float | Sequence[float], indexes: tuple[int, ...]) -> float | tuple[float, ...]:
    """One factor for all bands, or the model bands' factors from a per-band sequence."""
    if isinstance(value, (int, float)):
        return float(value)
    values = [float(value[i]) for i in indexes]
    return values[0] if len(set(values)) == 1 else tuple(values)


def _per_band(value: float | tuple[float, ...]) -> np.ndarray:
    """A factor as a float32 array that broadcasts over ``(bands, ...)``."""
    return np.asarray(value, np.float32).reshape(-1, 1)


def cloud_mask(
    data: np.ndarray, valid: np.ndarray, config: CloudConfig, model: CloudModel | None = None
) -> np.ndarray:
    """Mask cloud and cloud shadow in one window.

    Safe to call from several threads at once with one shared ``model`` (one
    ONNX session, one thread each).

    Args:
        data: float32 ``(bands, h, w)`` window, in the file's units.
        valid: bool ``(h, w)``, False where the window has no data.
        config: from :func:`cloud_support`.
        model: ``load_cloud_model(config)``, loaded once for many windows; without
            it the model is loaded for this call only (0.35 s).

    Returns:
        bool ``(h, w)``: True where cloud or cloud shadow (grown by ``config.buffer``),
        always False where ``valid`` is False.

    Raises:
        CloudMaskUnavailableError: ukis-csmask or onnxruntime is not installed.

    Example:
        >>> cfg = cloud_support(["blue", "green", "red", "nir"], "uint16")
        >>> window = np.full((4, 64, 64), 1500, np.float32)
        >>> cloud_mask(window, np.ones((64, 64), bool), cfg).shape  # doctest: +SKIP
        (64, 64)
    """
    classes = cloud_classes(data, valid, config, full_size=False, model=model)
    mask = classes > 0
    if config.buffer > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, iterations=config.buffer)
    return _upsample(mask, config.downsample, data.shape[1:]) & valid


def cloud_classes(
    data: np.ndarray,
    valid: np.ndarray,
    config: CloudConfig,
    full_size: bool = True,
    model: CloudModel | None = None,
) -> np.ndarray:
    """Classify one window: uint8 ``0`` clear, ``1`` cloud, ``2`` cloud shadow (no buffer).

    Args:
        data, valid, config, model: as for :func:`cloud_mask`.
        full_size: return the window's grid; ``False`` returns the model's grid
            (the window block-averaged by ``config.downsample``).

    Example:
        >>> cls = cloud_classes(window, valid, cfg)  # doctest: +SKIP
        >>> cloud_fraction = (cls == 1).mean()  # doctest: +SKIP
    """
    h, w = data.shape[1:]
    f = config.downsample
    small = (-(-h // f), -(-w // f))
    if not valid.any():
        out = np.zeros(small, np.uint8)
    else:
        img = _prepare(data, valid, config)
        ph, pw = max(0, TILE - img.shape[0]), max(0, TILE - img.shape[1])
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
        model = model if model is not None else load_cloud_model(config)
        out = model.classify(img, config.band_order)[: small[0], : small[1]]
    if full_size:
        out = _upsample(out, f, (h, w))
    return out


def looks_like_reflectance(data: np.ndarray, valid: np.ndarray, config: CloudConfig) -> bool:
    """Check that scaled sample data look like reflectance (median of the bands in -0.05..1.5).

    Use it on a fitting sample before masking a whole scene: a wrong ``scale``
    makes the model call everything cloud (or nothing).

    Example:
        >>> cfg = cloud_support(["blue", "green", "red", "nir"], "uint16")
        >>> looks_like_reflectance(np.full((4, 8, 8), 1200, np.float32), np.ones((8, 8), bool), cfg)
        True
    """
    if not valid.any():
        return True
    med = np.median(data[list(config.band_indexes)][:, valid], axis=1)[:, None]
    med = (med * _per_band(config.scale) + _per_band(config.offset))[:, 0]
    return bool(np.all((med > -0.05) & (med < 1.5)))


def cloud_masking_available() -> bool:
    """True when ukis-csmask and onnxruntime can be imported."""
    try:
        _load()
    except CloudMaskUnavailableError:
        return False
    return True


def _prepare(data: np.ndarray, valid: np.ndarray, config: CloudConfig) -> np.ndarray:
    """Model bands as reflectance ``(h', w', bands)`` float32, gaps filled, block-averaged."""
    x = data[list(config.band_indexes)].astype(np.float32)
    x *= _per_band(config.scale)[..., None]
    x += _per_band(config.offset)[..., None]
    if not valid.all():
        fill = x[:, valid].mean(axis=1)
        x[:, ~valid] = fill[:, None]
    f = config.downsample
    if f > 1:
        b, h, w = x.shape
        hp, wp = -(-h // f) * f, -(-w // f) * f
        if (hp, wp) != (h, w):
            x = np.pad(x, ((0, 0), (0, hp - h), (0, wp - w)), mode="edge")
        x = x.reshape(b, hp // f, f, wp // f, f).mean(axis=(2, 4), dtype=np.float32)
    return np.ascontiguousarray(np.moveaxis(x, 0, -1))


def _upsample(small: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    if f > 1:
        small = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
    return small[: shape[0], : shape[1]]


class CloudModel:
    """One ONNX session of one ukis-csmask model file, shared by every thread that holds it."""

    def __init__(self, model_file: Path) -> None:
        ort = _load()
        meta = json.loads(model_file.with_suffix(".json").read_text())
        stats = meta["data"]["dataset_statistics"]
        self.model_file = model_file
        self.band_names = list(stats["band_names"])
        self.mean, self.std = stats["img"]
        self.target_size = meta["data"]["target_size"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_file), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name

    def classify(self, img: np.ndarray, band_order: Sequence[str]) -> np.ndarray:
        """Classes ``(h, w)`` uint8 of a reflectance image ``(h, w, bands)`` of at least 256 px.

        The same steps as ``CSmask._csm`` (normalise with the model's statistics,
        256 px tiles with 20 % overlap, softmax, smooth blending, argmax), with
        ukis-csmask's public tiling functions and this object's session. An image
        of exactly one tile is classified in one run, 4 times faster than CSmask's
        four overlapping tiles of the mirrored image; on the cloudy Landsat cut the
        two agree on 88-99 % of the cloud-or-shadow mask of 256 px crops, with the
        same recall (99 %) of the quality band's high-confidence clouds.
        """
        from ukis_csmask.utils import tile_array, untile_array

        order = [list(band_order).index(b) for b in self.band_names]
        x = (img[..., order] - np.float32(self.mean)) / np.float32(self.std)
        x = x.astype(np.float32, copy=False)
        ys, xs = self.target_size
        if x.shape[:2] == (ys, xs):  # one model tile: no tiling, blending or softmax needed
            logits = self.session.run(None, {self.input: np.moveaxis(x, -1, 0)[None]})[0]
            return np.argmax(logits[0], axis=0).astype(np.uint8)
        tiles = np.moveaxis(tile_array(x, xsize=ys, ysize=xs, overlap=_OVERLAP), -1, 1)
        logits = [self.session.run(None, {self.input: t[None]})[0] for t in tiles]
        probs = special.softmax(np.concatenate(logits), axis=1)
        probs = untile_array(
            np.moveaxis(probs, 1, -1),
            (*x.shape[:2], probs.shape[1]),
            overlap=_OVERLAP,
            smooth_blending=True,
        )
        return np.argmax(probs, axis=2).astype(np.uint8)


def load_cloud_model(config: CloudConfig) -> CloudModel:
    """Load ``config``'s model file into a new ONNX session (0.35 s, about 200 MiB).

    Raises:
        CloudMaskUnavailableError: ukis-csmask or onnxruntime is not installed.

    Example:
        >>> model = load_cloud_model(cloud_support(["blue", "green", "red", "nir"], "uint16"))  # doctest: +SKIP
        >>> masks = [cloud_mask(w, v, cfg, model) for w, v in windows]  # doctest: +SKIP
    """
    return CloudModel(config.model_file)


def _load() -> Any:
    """Import onnxruntime and ukis-csmask, or say how to install them."""
    try:
        import onnxruntime
        import ukis_csmask.utils  # noqa: F401
    except ImportError as exc:
        raise CloudMaskUnavailableError(
            f"cloud masking needs the packages ukis-csmask and onnxruntime ({exc}). "
            f"Install them with: {_INSTALL}. Or turn cloud masking off "
            "(detect_changes(..., cloud_mask='off'), --cloud-mask off)."
        ) from None
    return onnxruntime


def _package_dir() -> Path:
    """Folder of the installed ukis_csmask package (without importing onnxruntime)."""
    import importlib.util

    spec = importlib.util.find_spec("ukis_csmask")
    if spec is None or not spec.submodule_search_locations:
        raise CloudMaskUnavailableError(
            f"cloud masking needs the package ukis-csmask. Install it with: {_INSTALL}."
        )
    return Path(next(iter(spec.submodule_search_locations)))
